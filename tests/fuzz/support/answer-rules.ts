import { errorCatalog, isErrorCode, type ErrorCode } from "@veriflow/errors";
import { grpc } from "@veriflow/grpc";
import type { CallOutcome } from "./grpc-calls.js";
import type { Exchange } from "./raw-exchange.js";

/**
 * What every answer to a hostile input must be: a client error with a catalog code whose
 * status agrees with the catalog, never a server error, never silence.
 */

/** The REST rule; undefined when the answer keeps it, else what is wrong. `outcome` labels it for the tally. */
export function judgeRest(ex: Exchange, sent: { method: string; halfClose: boolean }): { outcome: string; problem?: string } {
  if (ex.timedOut) return { outcome: "no answer", problem: `no answer within ${ex.ms} ms (a hang)` };
  if (ex.status === null) {
    // A client that ends its side gives up on the request: Node closes the connection then
    // (http.Server without allowHalfOpen), and there is nobody left to answer.
    if (sent.halfClose) return { outcome: "client left, closed" };
    return { outcome: "closed, no answer", problem: "the connection was closed without an answer" };
  }
  const code = errorCodeOf(ex.text);
  const outcome = `${ex.status}${code ? ` ${code}` : ""}`;
  if (ex.status >= 500 && !isAnswerAboutTheCaller(ex.status, code)) return { outcome, problem: `a server error: ${ex.status} ${ex.text.slice(0, 300)}` };
  if (ex.status < 400 || sent.method === "HEAD") return { outcome };
  if (!code) return { outcome, problem: `${ex.status} without an error body of the catalog: ${ex.text.slice(0, 300)}` };
  if (errorCatalog[code].http !== ex.status) return { outcome, problem: `${code} answered ${ex.status}, the catalog says ${errorCatalog[code].http}` };
  return { outcome };
}

/**
 * The 5xx answers that are not our fault: 501 for a method HTTP/1.1 does not define, and 502
 * when a remote party the request itself named (its manifest host, its chain RPC) did not
 * answer; a fuzzed sync verification may name a closed loopback port, which the test system
 * allows. Each still has to carry a catalog code whose status agrees (checked below).
 */
function isAnswerAboutTheCaller(status: number, code: ErrorCode | undefined): boolean {
  if (status === 501) return code === "E_NOT_IMPLEMENTED";
  return status === 502 && code !== undefined && errorCatalog[code].kind === "transient" && errorCatalog[code].http === 502;
}

function errorCodeOf(text: string) {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return isErrorCode(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/** Client errors: the caller sent something it should not have, or asked for what is not there. */
const CLIENT_STATUSES = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.PERMISSION_DENIED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAUTHENTICATED,
]);

/** The gRPC rule: OK, a watch still open when let go, or a client error (with a catalog code when the service sent one). */
export function judgeGrpc(o: CallOutcome): { outcome: string; problem?: string } {
  if (o.leftOpen) return { outcome: "stream open" };
  const name = grpc.status[o.code];
  const outcome = `${name}${o.errorCode ? ` ${o.errorCode}` : ""}`;
  if (o.code === grpc.status.OK) return { outcome };
  if (!CLIENT_STATUSES.has(o.code)) {
    const why = o.code === grpc.status.DEADLINE_EXCEEDED && !o.errorCode ? " (no answer before the deadline: a hang)" : "";
    return { outcome, problem: `${name}${why}: ${o.errorCode ?? "no x-error-code"} ${o.details.slice(0, 200)}` };
  }
  if (o.errorCode !== undefined) {
    if (!isErrorCode(o.errorCode)) return { outcome, problem: `x-error-code ${o.errorCode} is not in the catalog` };
    const expected = errorCatalog[o.errorCode].grpc;
    if (grpc.status[expected] !== o.code) return { outcome, problem: `${o.errorCode} answered ${name}, the catalog says ${expected}` };
  }
  return { outcome };
}
