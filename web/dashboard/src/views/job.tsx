import { useEffect, useState } from "preact/hooks";
import { ApiError, describeError, getJson, postJson, readEvents } from "../api.js";
import { Card, ErrorBanner, Link, Progress, StatusBadge } from "../components.js";
import { formatBytes, formatDuration } from "../format.js";
import type { Deliveries, HistoryEvent, Job } from "../types.js";
import { usePoll } from "../poll.js";
import { explainFailure } from "../verdict.js";
import { DeliveriesCard, ProofDocument, Timeline, Verdict } from "./job-cards.js";

const path = (jobId: string, sub = "") => `/api/verification-jobs/${encodeURIComponent(jobId)}${sub}`;
const isTerminal = (j: Job | null) => j?.status === "completed" || j?.status === "failed";

/**
 * The job as it happens: its SSE watch (read with fetch, so the key rides in a header) moves
 * the status and progress; each change re-reads the history (the timeline) and, once it ends,
 * the webhook deliveries are polled beside it. A dropped stream reconnects after a pause, until the job ends.
 */
function useLiveJob(jobId: string) {
  const [job, setJob] = useState<Job | null>(null);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const controller = new AbortController();
    let ended = false;
    setJob(null);
    setError(null);
    void (async () => {
      for (let pause = 1000; !controller.signal.aborted && !ended; pause = Math.min(pause * 2, 30_000)) {
        try {
          setLive(true);
          await readEvents(
            path(jobId, "/events"),
            (event, data) => {
              if (event === "job") {
                setJob(data as Job);
                setError(null);
              }
              if (event === "end") ended = true;
            },
            controller.signal,
          );
        } catch (err) {
          if (controller.signal.aborted) return;
          setError(err);
          // No such job, a bad id or a key refused: asking again would get the same answer.
          if (err instanceof ApiError && [400, 401, 403, 404].includes(err.status)) return;
        } finally {
          setLive(false);
        }
        if (!ended) await new Promise((r) => setTimeout(r, pause));
      }
    })();
    return () => controller.abort();
  }, [jobId]);
  return { job, setJob, live, error };
}

export function JobView({ jobId }: { jobId: string }) {
  const { job, setJob, live, error } = useLiveJob(jobId);
  const [history, setHistory] = useState<HistoryEvent[]>([]);
  // Callbacks are sent after the job's events, and retried for hours: read every 5 s while the page is open.
  const deliveries = usePoll((signal) => getJson<Deliveries>(path(jobId, "/deliveries"), signal), 5000, [jobId]).data;
  const [action, setAction] = useState<{ ok: boolean; text: string } | null>(null);
  const version = job ? `${job.run}:${job.status}:${job.progress}:${job.updatedAt}` : "";
  useEffect(() => {
    if (!job) return;
    void getJson<{ events: HistoryEvent[] }>(path(jobId, "/history")).then((h) => setHistory(h.events), () => {});
  }, [version]);

  const retry = async () => {
    try {
      const r = await postJson<{ message: string; job: Job }>(path(jobId, "/retry"));
      setAction({ ok: true, text: r.message });
      setJob(r.job);
    } catch (err) {
      setAction({ ok: false, text: describeError(err) });
    }
  };

  if (!job) {
    return (
      <div class="view">
        <ErrorBanner error={error} />
        {!error && <p class="muted">Loading job {jobId}…</p>}
      </div>
    );
  }
  return (
    <div class="view" data-testid="job-view">
      <div class="job-head">
        <div>
          <Link to={{ name: "jobs" }} class="back">
            ← jobs
          </Link>
          <h1 class="mono" data-testid="job-id">
            {job.id}
          </h1>
        </div>
        <div class="job-state">
          <StatusBadge status={job.status} />
          <Progress value={job.progress} />
          <span class="muted" data-testid="job-progress">
            {job.progress}%
          </span>
          <span class={`live ${live ? "on" : ""}`} title={live ? "watching live (SSE)" : "not watching"}>
            {live ? "● live" : isTerminal(job) ? "finished" : "○ reconnecting"}
          </span>
        </div>
      </div>
      <ErrorBanner error={error} />
      {action && (
        <div class={`banner ${action.ok ? "banner-ok" : "banner-error"}`} role="status" data-testid="action-message">
          {action.text}
        </div>
      )}
      <div class="grid">
        <Card title="Details">
          <dl class="facts">
            <dt>type</dt>
            <dd>{job.type ?? "–"}</dd>
            <dt>run</dt>
            <dd>{job.run}</dd>
            <dt>file</dt>
            <dd>
              {job.fileName ?? "–"} ({formatBytes(job.fileSize)})
            </dd>
            <dt>content hash</dt>
            <dd class="mono wrap">{job.contentHash ?? "not hashed yet"}</dd>
            <dt>manifest</dt>
            <dd class="mono wrap">{job.manifestUri ?? "–"}</dd>
            <dt>registry</dt>
            <dd class="mono wrap">{job.registryAddress ?? "–"}</dd>
            <dt>created</dt>
            <dd>{new Date(job.createdAt).toISOString().replace("T", " ").slice(0, 19)} UTC</dd>
            <dt>took</dt>
            <dd>{job.completedAt ? formatDuration(Date.parse(job.completedAt) - Date.parse(job.createdAt)) : "in progress"}</dd>
          </dl>
        </Card>
        <Timeline events={history} createdAt={job.createdAt} />
      </div>
      {job.status === "completed" && job.result && <Verdict job={job} />}
      {job.status === "failed" && (
        <Card title="Failure" testid="failure">
          <p>{explainFailure(job.failure)}</p>
          <button class="button" onClick={() => void retry()} data-testid="retry">
            Retry this job
          </button>
          <p class="muted small">A retry needs a key with the submit scope; it runs again from the stage that gave up.</p>
        </Card>
      )}
      {job.type === "proof" && job.status === "completed" && job.result && <ProofDocument job={job} />}
      <DeliveriesCard deliveries={deliveries} />
    </div>
  );
}
