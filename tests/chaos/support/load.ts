import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { JOBS_PATH } from "@veriflow/events";
import { MIN_RETRY_DELAY_MS, isComeBackLater, retryDelayMs } from "../../../cli/src/retrying-submit.js";
import { ApiError } from "../../../cli/src/errors.js";
import type { Case } from "./cases.js";

/** How one submission ended, as the client saw it. */
export type SubmitOutcome =
  /** 202 with a job id: the system owes this job exactly one terminal event. */
  | { kind: "accepted"; jobId: string }
  /**
   * The gateway verified in-process (queue down; no job exists): 200 `mode: "sync"` with the
   * verdict, or 422 with the code of the failure (the submission can't be verified as sent).
   */
  | { kind: "sync"; result: { status?: string; reasons?: string[]; fileHash?: string } | null; failureCode: string | null }
  /** Any other answer: the status and the error code. */
  | { kind: "refused"; status: number; code: string }
  /** No answer (connection refused or reset, timeout). */
  | { kind: "unanswered"; error: string };

export interface Submission {
  index: number;
  case: Case;
  /** True when the job carried a callbackUrl. */
  callback: boolean;
  fileName: string;
  outcome: SubmitOutcome;
  /** When the first attempt was sent and the last one answered (ms since the epoch); absent for jobs a fault started past the gateway. */
  sentAt?: number;
  answeredAt?: number;
  /** The "come back later" answers (status 0: no answer) retried (only with `retryForMs`), in order. */
  retries?: Retry[];
}

export interface Retry {
  at: number;
  status: number;
  code: string;
  delayMs: number;
}

export interface LoadOptions {
  /** Gateway replicas: submission i goes to `gatewayUrls[i % length]`. */
  gatewayUrls: readonly string[];
  registry: string;
  cases: readonly Case[];
  jobs: number;
  /** Submissions started per second (open loop). */
  rate: number;
  /** At most this many submissions waiting for an answer; the schedule waits beyond it. */
  maxInFlight: number;
  callbackUrl: string;
  /** Every n-th job carries the callbackUrl. */
  callbackEvery: number;
  /** The upload's file name (a scenario may poison some). */
  fileName?: (index: number) => string;
  timeoutMs: number;
  /**
   * Retry as a real client does (the CLI's rule: 503, 507, 429, a key still in progress), after
   * the answer's Retry-After, and after no answer at all, for at most this long, every attempt
   * with the same Idempotency-Key.
   * 0 or absent: one attempt, its answer is the outcome.
   */
  retryForMs?: number;
}

/**
 * Open-loop load: submission i starts at start + i/rate whether or not earlier ones were
 * answered (a stalled gateway shows as refusals and timeouts, not as a slower client), up
 * to `maxInFlight` unanswered at once. Multipart bodies are built by hand, so a scenario
 * controls every byte of the file name.
 */
export async function runLoad(opts: LoadOptions, startedAt = Date.now()): Promise<Submission[]> {
  const out: Submission[] = [];
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < opts.jobs; i++) {
    const wait = startedAt + (i * 1000) / opts.rate - Date.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= opts.maxInFlight) await Promise.race(inFlight);
    const c = opts.cases[i % opts.cases.length]!;
    const callback = i % opts.callbackEvery === 0;
    const fileName = opts.fileName?.(i) ?? `chaos-${i}.bin`;
    const gatewayUrl = opts.gatewayUrls[i % opts.gatewayUrls.length]!;
    const sentAt = Date.now();
    const p = submitRetrying(opts, gatewayUrl, c, callback, fileName).then(({ outcome, retries }) => {
      out.push({ index: i, case: c, callback, fileName, outcome, sentAt, answeredAt: Date.now(), retries });
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  return out.sort((a, b) => a.index - b.index);
}

async function submitRetrying(opts: LoadOptions, gatewayUrl: string, c: Case, callback: boolean, fileName: string): Promise<{ outcome: SubmitOutcome; retries: Retry[] }> {
  const retryForMs = opts.retryForMs ?? 0;
  const key = retryForMs > 0 ? randomUUID() : undefined;
  const retries: Retry[] = [];
  const started = Date.now();
  for (;;) {
    const { outcome, retryAfter } = await submit(opts, gatewayUrl, c, callback, fileName, key);
    // No answer (a timeout, a reset) is retried too: the same Idempotency-Key gets the job an
    // unanswered attempt may have made, never a second one.
    const comeBack = outcome.kind === "refused" ? isComeBackLater(new ApiError(outcome.status, outcome.code, "")) : outcome.kind === "unanswered";
    if (!comeBack || retryForMs === 0) return { outcome, retries };
    const delayMs = outcome.kind === "refused" ? retryDelayMs(retryAfter) : MIN_RETRY_DELAY_MS;
    if (Date.now() + delayMs - started > retryForMs) return { outcome, retries };
    retries.push({ at: Date.now(), status: outcome.kind === "refused" ? outcome.status : 0, code: outcome.kind === "refused" ? outcome.code : "no answer", delayMs });
    await sleep(delayMs);
  }
}

async function submit(
  opts: LoadOptions,
  gatewayUrl: string,
  c: Case,
  callback: boolean,
  fileName: string,
  idempotencyKey?: string,
): Promise<{ outcome: SubmitOutcome; retryAfter: string | null }> {
  const fields: [string, string][] = [
    ["registryAddress", opts.registry],
    ["manifestURI", c.manifestUri],
    ...(callback ? [["callbackUrl", opts.callbackUrl] as [string, string]] : []),
  ];
  const { body, contentType } = multipart(fields, fileName, c.bytes);
  try {
    const res = await fetch(`${gatewayUrl}${JOBS_PATH}/verify`, {
      method: "POST",
      body,
      headers: { "content-type": contentType, ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}) },
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON: refused below with its status */
    }
    const retryAfter = res.headers.get("retry-after");
    if (res.status === 202 && typeof json?.jobId === "string") return { outcome: { kind: "accepted", jobId: json.jobId }, retryAfter };
    const code = typeof json?.error?.code === "string" ? (json.error.code as string) : "-";
    if (res.status === 200 && json?.mode === "sync") return { outcome: { kind: "sync", result: json.result ?? null, failureCode: null }, retryAfter };
    // The in-process path marks its answers, errors included; 5xx and 400 are refusals, not outcomes.
    if (res.status === 422 && res.headers.get("x-veriflow-mode") === "fallback") return { outcome: { kind: "sync", result: null, failureCode: code }, retryAfter };
    return { outcome: { kind: "refused", status: res.status, code }, retryAfter };
  } catch (err) {
    const error = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return { outcome: { kind: "unanswered", error }, retryAfter: null };
  }
}

/** A multipart/form-data body: the fields, then the file part with `fileName` as given (no escaping). */
function multipart(fields: readonly [string, string][], fileName: string, bytes: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----veriflowchaos${randomBytes(8).toString("hex")}`;
  const parts: Buffer[] = fields.map(([name, value]) =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
  );
  parts.push(
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n`, "utf8"),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
