import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { JOBS_PATH } from "@veriflow/events";
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
}

export interface LoadOptions {
  gatewayUrl: string;
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
    const p = submit(opts, c, callback, fileName).then((outcome) => {
      out.push({ index: i, case: c, callback, fileName, outcome });
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  return out.sort((a, b) => a.index - b.index);
}

async function submit(opts: LoadOptions, c: Case, callback: boolean, fileName: string): Promise<SubmitOutcome> {
  const fields: [string, string][] = [
    ["registryAddress", opts.registry],
    ["manifestURI", c.manifestUri],
    ...(callback ? [["callbackUrl", opts.callbackUrl] as [string, string]] : []),
  ];
  const { body, contentType } = multipart(fields, fileName, c.bytes);
  try {
    const res = await fetch(`${opts.gatewayUrl}${JOBS_PATH}/verify`, {
      method: "POST",
      body,
      headers: { "content-type": contentType },
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON: refused below with its status */
    }
    if (res.status === 202 && typeof json?.jobId === "string") return { kind: "accepted", jobId: json.jobId };
    const code = typeof json?.error?.code === "string" ? (json.error.code as string) : "-";
    if (res.status === 200 && json?.mode === "sync") return { kind: "sync", result: json.result ?? null, failureCode: null };
    // The in-process path marks its answers, errors included; 5xx and 400 are refusals, not outcomes.
    if (res.status === 422 && res.headers.get("x-veriflow-mode") === "fallback") return { kind: "sync", result: null, failureCode: code };
    return { kind: "refused", status: res.status, code };
  } catch (err) {
    return { kind: "unanswered", error: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) };
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
