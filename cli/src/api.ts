import { BATCHES_PATH, DEAD_LETTERS_PATH, JOBS_PATH, WATCHES_PATH, batchPath, deadLetterPath, jobPath, watchPath, type JobStatus, type JobType } from "@veriflow/events";
import { ApiError, UnreachableError } from "./errors.js";
import { postMultipart, postMultipartFiles } from "./upload.js";

/** A job as `GET /api/verification-jobs/:id` answers it (the fields the CLI reads). */
export interface Job {
  id: string;
  /** 1, or n + 1 after n retries (absent from servers without retries). */
  run?: number;
  type: JobType;
  status: JobStatus;
  progress: number;
  contentHash: string | null;
  manifestUri: string | null;
  registryAddress: string | null;
  /** interactive or bulk (absent from servers without priorities). */
  priority?: "interactive" | "bulk";
  fileName?: string | null;
  result: Record<string, any> | null;
  error: string | null;
  failure: { stage: string; code: string; message: string; attempts: number } | null;
  retryCount: number;
  createdAt: string;
  completedAt: string | null;
}

/**
 * The answer to a submission: `{ mode: "async", jobId, status: "queued", pollUrl }`, or, while
 * the gateway's queue is down, its in-process verdict `{ mode: "sync", result }` (no job).
 */
export interface Accepted {
  mode: "async" | "sync";
  jobId?: string;
  status?: string;
  pollUrl?: string;
  result?: Record<string, any>;
  /** The gateway answered from its in-process fallback (header x-veriflow-mode: fallback). */
  fallback?: boolean;
  [field: string]: unknown;
}

/** The answer to `POST …/:id/retry`: the job in its new run, and where that run resumes. */
export interface RetryAnswer {
  jobId: string;
  run: number;
  stage: string;
  status: JobStatus;
  message: string;
  pollUrl: string;
  job: Job;
}

/** A dead letter as `GET /api/dead-letters` lists it. */
export interface DeadLetterSummary {
  seq: number;
  consumer: string;
  subject: string;
  streamSeq: number | null;
  reason: string;
  deadLetteredAt: string;
  size: number;
}

/** A dead letter as `GET /api/dead-letters/:seq` shows it: with its headers and bytes. */
export interface DeadLetter extends DeadLetterSummary {
  headers: Record<string, string>;
  dataEncoding: "utf8" | "base64";
  data: string;
  /** The bytes parsed as JSON, when they are. */
  json: unknown;
}

export interface DeadLetterPage {
  deadLetters: DeadLetterSummary[];
  count: number;
  total: number;
  byConsumer: Record<string, number>;
  limit: number;
  /** `--after` for the next page; null on the last. */
  next: number | null;
}

export interface ReplayAnswer {
  seq: number;
  consumer: string;
  subject: string;
  streamSeq: number;
  duplicate: boolean;
  message: string;
}

export interface JobPage {
  jobs: Job[];
  count: number;
  total: number;
  limit: number;
  offset: number;
}

export interface SubmitInput {
  file: string;
  manifestUri: string;
  registryAddress: string;
  rpcUrl?: string;
  priority?: "interactive" | "bulk";
  /** Re-verify the completed job on this schedule (ISO-8601 duration or seconds; the server checks it). */
  recheckEvery?: string;
  /** Decide afresh: never answer from a verdict already recorded for the same question. */
  fresh?: boolean;
  type: JobType;
  /** Sent as `Idempotency-Key`: the same key on every attempt of one submission makes one job. */
  idempotencyKey?: string;
}

/** The answer to `POST /api/verification-batches`. */
export interface BatchAccepted {
  batchId: string;
  pollUrl: string;
  jobs: { jobId: string; fileName: string }[];
  rejected: { index: number; fileName: string | null; code: string; message: string }[];
}

/** A batch as `GET /api/verification-batches/:id` answers it. */
export interface Batch {
  batchId: string;
  total: number;
  rejected: number;
  counts: { queued: number; processing: number; completed: number; failed: number };
  verdicts: { OK: number; WARN: number; FAIL: number };
  done: boolean;
  jobs: Job[];
  limit: number;
  offset: number;
}

export interface SubmitBatchInput {
  /** The files, each sent under its base name, with its manifest URI in the same order. */
  files: { path: string; manifestUri: string }[];
  registryAddress: string;
  rpcUrl?: string;
  type: JobType;
  idempotencyKey?: string;
}

/** What `veriflow watch` sends (POST /api/watches). */
export interface WatchInput {
  contentHash: string;
  manifestUri: string;
  registryAddress: string;
  callbackUrl?: string | undefined;
  recheckEvery?: string | undefined;
  /** Sent as `Idempotency-Key`: the same key on every attempt of one create makes one watch. */
  idempotencyKey?: string;
}

/** The answer to POST /api/watches. */
export interface WatchAccepted {
  watchId: string;
  jobId: string;
  status: "queued";
  pollUrl: string;
}

/** A watch as `GET /api/watches` lists it (the fields the CLI reads). */
export interface Watch {
  watchId: string;
  contentHash: string;
  manifestUri: string | null;
  registryAddress: string | null;
  active: boolean;
  createdAt: string;
  stoppedAt: string | null;
  status: JobStatus;
  run: number;
  verdict: Record<string, any> | null;
  verdictHistory: { run: number; status: string | null }[];
}

export interface WatchPage {
  watches: Watch[];
  total: number;
  limit: number;
  offset: number | null;
  nextCursor: string | null;
}

export interface ApiClient {
  baseUrl: string;
  /** Uploads the file streamed from disk with backpressure, never read whole into memory. */
  submit(input: SubmitInput): Promise<Accepted>;
  getJob(id: string, signal?: AbortSignal): Promise<Job>;
  /** Uploads several files as one batch, each streamed from disk in turn. */
  submitBatch(input: SubmitBatchInput): Promise<BatchAccepted>;
  getBatch(id: string, page: { limit: number; offset: number }, signal?: AbortSignal): Promise<Batch>;
  listJobs(query: { status?: string; limit?: number; offset?: number }): Promise<JobPage>;
  /** `GET …/:id/events` as an open response, or null when the server has no such route. */
  openEvents(id: string, signal: AbortSignal): Promise<Response | null>;
  /** `POST …/:id/retry`: a failed job's new run. */
  retryJob(id: string): Promise<RetryAnswer>;
  listDeadLetters(query: { consumer?: string; after?: number; limit?: number }): Promise<DeadLetterPage>;
  getDeadLetter(seq: number): Promise<DeadLetter>;
  replayDeadLetter(seq: number): Promise<ReplayAnswer>;
  createWatch(input: WatchInput): Promise<WatchAccepted>;
  listWatches(query: { active?: boolean; limit?: number; offset?: number }): Promise<WatchPage>;
  /** `DELETE /api/watches/:id`: 204 whether it was running or already stopped. */
  deleteWatch(id: string): Promise<void>;
}

export function createApiClient(opts: { url: string; apiKey?: string }): ApiClient {
  const baseUrl = opts.url.replace(/\/+$/, "");
  const auth: Record<string, string> = opts.apiKey ? { "x-api-key": opts.apiKey } : {};

  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    try {
      return await fetch(`${baseUrl}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(`${baseUrl} is not reachable: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
    }
  };
  const json = async <T>(res: Response): Promise<T> => {
    const text = await res.text();
    let body: any;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      body = null;
    }
    if (!res.ok) {
      const e = body?.error;
      const message = e?.message ?? (text.slice(0, 200) || res.statusText);
      throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, message, body?.requestId ?? null, res.headers.get("retry-after"));
    }
    if (body === null) throw new ApiError(res.status, "E_BAD_RESPONSE", `expected JSON, got: ${text.slice(0, 200)}`);
    return body as T;
  };

  return {
    baseUrl,
    async submit(input) {
      const fields: Record<string, string> = { registryAddress: input.registryAddress, manifestURI: input.manifestUri };
      if (input.rpcUrl) fields.rpcUrl = input.rpcUrl;
      if (input.priority) fields.priority = input.priority;
      if (input.recheckEvery) fields.recheckEvery = input.recheckEvery;
      if (input.fresh) fields.fresh = "true";
      const headers = input.idempotencyKey ? { ...auth, "idempotency-key": input.idempotencyKey } : auth;
      let answer;
      try {
        answer = await postMultipart(`${baseUrl}${JOBS_PATH}/${input.type}`, fields, input.file, headers);
      } catch (err) {
        throw new UnreachableError(`${baseUrl} is not reachable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      const retryAfter = answer.headers["retry-after"];
      const res = new Response(answer.text === "" ? null : answer.text, { status: answer.status, headers: typeof retryAfter === "string" ? { "retry-after": retryAfter } : {} });
      const fallback = answer.headers["x-veriflow-mode"] === "fallback";
      return { ...(await json<Accepted>(res)), ...(fallback ? { fallback } : {}) };
    },
    async submitBatch(input) {
      const fields: [string, string][] = [["registryAddress", input.registryAddress], ["jobType", input.type]];
      if (input.rpcUrl) fields.push(["rpcUrl", input.rpcUrl]);
      for (const f of input.files) fields.push(["manifestURI", f.manifestUri]);
      const headers = input.idempotencyKey ? { ...auth, "idempotency-key": input.idempotencyKey } : auth;
      let answer;
      try {
        answer = await postMultipartFiles(`${baseUrl}${BATCHES_PATH}`, fields, input.files.map((f) => f.path), headers);
      } catch (err) {
        throw new UnreachableError(`${baseUrl} is not reachable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      const retryAfter = answer.headers["retry-after"];
      return json<BatchAccepted>(new Response(answer.text === "" ? null : answer.text, { status: answer.status, headers: typeof retryAfter === "string" ? { "retry-after": retryAfter } : {} }));
    },
    async getBatch(id, page, signal) {
      return json<Batch>(await request(`${batchPath(id)}?limit=${page.limit}&offset=${page.offset}`, signal ? { signal } : {}));
    },
    async getJob(id, signal) {
      return json<Job>(await request(jobPath(id), signal ? { signal } : {}));
    },
    async listJobs(query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.size > 0 ? `?${params.toString()}` : "";
      return json<JobPage>(await request(`${JOBS_PATH}${qs}`));
    },
    async listDeadLetters(query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
      return json<DeadLetterPage>(await request(`${DEAD_LETTERS_PATH}${params.size > 0 ? `?${params.toString()}` : ""}`));
    },
    async getDeadLetter(seq) {
      return json<DeadLetter>(await request(deadLetterPath(seq)));
    },
    async replayDeadLetter(seq) {
      return json<ReplayAnswer>(await request(deadLetterPath(seq, "replay"), { method: "POST" }));
    },
    async createWatch(input) {
      const body: Record<string, string> = { contentHash: input.contentHash, manifestURI: input.manifestUri, registryAddress: input.registryAddress };
      if (input.callbackUrl) body.callbackUrl = input.callbackUrl;
      if (input.recheckEvery) body.recheckEvery = input.recheckEvery;
      const headers: Record<string, string> = { "content-type": "application/json", ...(input.idempotencyKey ? { "idempotency-key": input.idempotencyKey } : {}) };
      return json<WatchAccepted>(await request(WATCHES_PATH, { method: "POST", headers, body: JSON.stringify(body) }));
    },
    async listWatches(query) {
      const params = new URLSearchParams();
      if (query.active !== undefined) params.set("active", String(query.active));
      if (query.limit !== undefined) params.set("limit", String(query.limit));
      if (query.offset !== undefined) params.set("offset", String(query.offset));
      return json<WatchPage>(await request(`${WATCHES_PATH}${params.size > 0 ? `?${params.toString()}` : ""}`));
    },
    async deleteWatch(id) {
      const res = await request(watchPath(id), { method: "DELETE" });
      if (res.status !== 204) await json(res);
    },
    async retryJob(id) {
      return json<RetryAnswer>(await request(jobPath(id, "retry"), { method: "POST" }));
    },
    async openEvents(id, signal) {
      const res = await request(jobPath(id, "events"), { signal, headers: { accept: "text/event-stream" } });
      if (res.ok && (res.headers.get("content-type") ?? "").includes("text/event-stream") && res.body) return res;
      await res.body?.cancel().catch(() => {});
      if (res.status === 404 || res.status === 405 || res.ok) return null; // no SSE here: poll
      return json<never>(res);
    },
  };
}
