import type { VerifyResult } from "./verdict.js";

/** The REST API's shapes as the dashboard reads them (README, "REST"). */

export type JobStatus = "queued" | "processing" | "completed" | "failed";
export type JobType = "verify" | "proof";

export interface Failure {
  stage: string;
  code: string;
  message: string;
  attempts?: number;
}

export interface Job {
  id: string;
  run: number;
  type: JobType | null;
  status: JobStatus;
  progress: number;
  contentHash: string | null;
  manifestUri: string | null;
  registryAddress: string | null;
  fileName: string | null;
  fileSize: number | null;
  result: (VerifyResult & Record<string, unknown>) | null;
  error: string | null;
  failure: Failure | null;
  retryCount: number;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  updatedAt: string;
}

/** An earlier run's verdict, kept when a re-verification replaced it. */
export interface PastVerdict {
  run: number;
  status: string | null;
  reasons: string[];
  blockNumber: number | null;
  completedAt: string | null;
}

/** A content hash followed without its file (GET /api/watches); its id is its job's id. */
export interface Watch {
  watchId: string;
  contentHash: string;
  manifestUri: string | null;
  registryAddress: string | null;
  recheckEverySeconds: number | null;
  active: boolean;
  createdAt: string;
  stoppedAt: string | null;
  status: JobStatus;
  run: number;
  verdict: VerifyResult | null;
  verifiedAt: string | null;
  verdictHistory: PastVerdict[];
  failure: Failure | null;
  updatedAt: string;
}

export interface WatchList {
  watches: Watch[];
  total: number;
  nextCursor: string | null;
}

export interface JobList {
  jobs: Job[];
  total: number | null;
  nextCursor: string | null;
}

export interface Stats {
  available: boolean;
  waiting: number;
  active: number;
  completed: number;
  failed: number;
}

export interface HistoryEvent {
  id: string;
  type: string;
  run: number;
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface Delivery {
  id: string;
  eventType: string;
  target: "subscription" | "job";
  url: string;
  status: string;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string | null;
  completedAt: string | null;
  nextAttemptAt: string | null;
}

export interface Deliveries {
  callbackUrl: string | null;
  deliveries: Delivery[];
}

export interface PipelineConsumer {
  service: string;
  durable: string;
  kind: "stage" | "observer";
  exists: boolean;
  waiting: number;
  inFlight: number;
  backlog: number;
  redelivered: number;
  acked: number;
}

export interface Pipeline {
  generatedAt: string;
  streamAvailable: boolean;
  consumers: PipelineConsumer[] | null;
  deadLetters: { total: number; byConsumer: Record<string, number> } | null;
  throughput: { since: string; minutes: { minute: string; completed: number; failed: number }[] };
  latency: { sampleJobs: number; stages: { stage: string; p50Ms: number; p95Ms: number; samples: number }[] };
}

export interface DeadLetterSummary {
  seq: number;
  consumer: string;
  subject: string;
  streamSeq: number;
  reason: string;
  deadLetteredAt: string;
  size: number;
}

export interface DeadLetter extends DeadLetterSummary {
  headers: Record<string, string[] | string>;
  dataEncoding: "utf8" | "base64";
  data: string;
  json: unknown;
}
