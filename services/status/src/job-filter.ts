import { isTerminal, statusRank, type JobStatus, type JobType } from "@veriflow/events";
import type { Job } from "./store.js";

/** Which jobs a gRPC list or watch covers; every field set narrows it. */
export interface JobFilter {
  status?: JobStatus;
  type?: JobType;
  /** Lower-case 0x-prefixed SHA-256. */
  contentHash?: string;
  /** created_at >= createdAfter. */
  createdAfter?: Date;
  /** created_at < createdBefore. */
  createdBefore?: Date;
}

/** The same test queryJobs applies in SQL, for jobs arriving on a watch. */
export function matchesFilter(job: Job, f: JobFilter): boolean {
  if (f.status && job.status !== f.status) return false;
  if (f.type && job.type !== f.type) return false;
  if (f.contentHash && job.contentHash !== f.contentHash) return false;
  if (f.createdAfter && job.createdAt < f.createdAfter) return false;
  if (f.createdBefore && job.createdAt >= f.createdBefore) return false;
  return true;
}

/** Whether `next` may follow `prev` on a watch: never backwards, never a repeat; a retry's run is newer than any earlier run. */
export function isNewer(prev: Job, next: Job): boolean {
  if (next.run !== prev.run) return next.run > prev.run;
  const [from, to] = [statusRank(prev.status), statusRank(next.status)];
  if (to !== from) return to > from;
  if (isTerminal(prev.status)) return false; // the first terminal state is final
  if (next.progress !== prev.progress) return next.progress > prev.progress;
  return next.retryCount !== prev.retryCount || next.updatedAt > prev.updatedAt;
}
