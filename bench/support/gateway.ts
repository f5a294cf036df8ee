/** The few REST calls the bench makes on the gateway (no API key: the bench's stack sets none). */

import { JOBS_PATH } from "@veriflow/events";

export interface JobStats {
  waiting: number;
  active: number;
  completed: number;
  failed: number;
}

/** The fields of a job (as the status service answers it) that the figures use. */
export interface Job {
  id: string;
  status: string;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  contentHash?: string;
  result?: { status?: string };
  error?: unknown;
}

export interface JobEvent {
  type: string;
  occurredAt: string;
}

export async function getStats(gatewayUrl: string): Promise<JobStats> {
  return (await (await fetch(`${gatewayUrl}${JOBS_PATH}/stats`)).json()) as JobStats;
}

export async function getJob(gatewayUrl: string, jobId: string): Promise<Job> {
  return (await (await fetch(`${gatewayUrl}${JOBS_PATH}/${jobId}`)).json()) as Job;
}

export async function getHistory(gatewayUrl: string, jobId: string): Promise<JobEvent[]> {
  const body = (await (await fetch(`${gatewayUrl}${JOBS_PATH}/${jobId}/history`)).json()) as { events: JobEvent[] };
  return body.events;
}

/** Every job the status service holds, by id (pages of 100, each after the last one's cursor). */
export async function listAllJobs(gatewayUrl: string): Promise<Map<string, Job>> {
  const jobs = new Map<string, Job>();
  for (let cursor: string | null = ""; cursor !== null; ) {
    const r = await fetch(`${gatewayUrl}${JOBS_PATH}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    const body = (await r.json()) as { jobs: Job[]; nextCursor: string | null };
    for (const j of body.jobs) jobs.set(j.id, j);
    cursor = body.nextCursor;
  }
  return jobs;
}
