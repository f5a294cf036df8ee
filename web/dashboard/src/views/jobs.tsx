import { useState } from "preact/hooks";
import { ApiError, describeError, getJson, postJson } from "../api.js";
import { type ActionResult, ErrorBanner, JobIdCell, MoreButton, Progress, ResultBanner, Stat, StatusBadge, VerdictBadge } from "../components.js";
import { formatAge, formatCount, parseSearch, shortHex } from "../format.js";
import { useOlderPages } from "../paging.js";
import { usePoll } from "../poll.js";
import type { Job, JobList, JobStatus, JobType, Stats } from "../types.js";

const JOBS = "/api/verification-jobs";
const PAGE = 50;

interface Filters {
  status: JobStatus | "";
  type: JobType | "";
  search: string;
}

/** The first page of what the filters ask for; a job id is looked up as itself (exact), a hash through the list. */
async function loadPage(f: Filters, signal: AbortSignal): Promise<JobList> {
  const term = parseSearch(f.search);
  if (term.kind === "jobId") {
    try {
      return { jobs: [await getJson<Job>(`${JOBS}/${term.value}`, signal)], total: 1, nextCursor: null };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return { jobs: [], total: 0, nextCursor: null };
      throw err;
    }
  }
  if (term.kind === "invalid") return { jobs: [], total: 0, nextCursor: null };
  return getJson<JobList>(`${JOBS}?${listQuery(f, term.kind === "contentHash" ? term.value : undefined)}`, signal);
}

function listQuery(f: Filters, contentHash?: string, cursor?: string): string {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (f.status) q.set("status", f.status);
  if (f.type) q.set("type", f.type);
  if (contentHash) q.set("contentHash", contentHash);
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

export function JobsView() {
  const [filters, setFilters] = useState<Filters>({ status: "", type: "", search: "" });
  const [retried, setRetried] = useState<ActionResult | null>(null);
  const retry = async (jobId: string) => {
    try {
      const r = await postJson<{ message: string }>(`${JOBS}/${jobId}/retry`);
      setRetried({ ok: true, text: `${jobId.slice(0, 8)}: ${r.message}` });
      page.refresh();
    } catch (err) {
      setRetried({ ok: false, text: `${jobId.slice(0, 8)}: ${describeError(err)}` });
    }
  };
  const page = usePoll((signal) => loadPage(filters, signal), 2000, [filters.status, filters.type, filters.search]);
  const stats = usePoll((signal) => getJson<Stats>(`${JOBS}/stats`, signal), 2000, []);
  const term = parseSearch(filters.search);
  const older = useOlderPages(page.data?.nextCursor ?? null, async (cursor) => {
    const more = await getJson<JobList>(`${JOBS}?${listQuery(filters, term.kind === "contentHash" ? term.value : undefined, cursor)}`);
    return { items: more.jobs, next: more.nextCursor };
  });
  const set = (patch: Partial<Filters>) => {
    older.reset();
    setFilters({ ...filters, ...patch });
  };
  const jobs = [...(page.data?.jobs ?? []), ...older.items];
  const now = Date.now();
  const s = stats.data;
  return (
    <div class="view">
      <div class="stats" data-testid="stats">
        <Stat label="queued" value={formatCount(s?.waiting)} />
        <Stat label="processing" value={formatCount(s?.active)} tone="active" />
        <Stat label="completed" value={formatCount(s?.completed)} tone="ok" />
        <Stat label="failed" value={formatCount(s?.failed)} tone="fail" />
        <Stat label="queue" value={s ? (s.available ? "available" : "down (sync mode)") : "–"} tone={s && !s.available ? "fail" : undefined} />
      </div>
      <div class="toolbar">
        <input
          class="search"
          type="search"
          placeholder="Search by job id or content hash (0x…)"
          aria-label="Search by job id or content hash"
          data-testid="search"
          value={filters.search}
          onInput={(e) => set({ search: e.currentTarget.value })}
        />
        <select aria-label="Status" data-testid="filter-status" value={filters.status} onChange={(e) => set({ status: e.currentTarget.value as Filters["status"] })}>
          <option value="">any status</option>
          {(["queued", "processing", "completed", "failed"] as const).map((st) => (
            <option value={st}>{st}</option>
          ))}
        </select>
        <select aria-label="Type" data-testid="filter-type" value={filters.type} onChange={(e) => set({ type: e.currentTarget.value as Filters["type"] })}>
          <option value="">any type</option>
          <option value="verify">verify</option>
          <option value="proof">proof</option>
        </select>
        <span class="muted count" data-testid="job-count">
          {page.data ? `${formatCount(jobs.length)} shown${page.data.total !== null ? ` of ${formatCount(page.data.total)}` : ""}` : "loading…"}
        </span>
      </div>
      {term.kind === "invalid" && <div class="banner">Search takes a job id (a uuid) or a content hash (0x and 64 hex digits).</div>}
      <ErrorBanner error={page.error ?? older.error} />
      <ResultBanner result={retried} testid="retry-result" />
      <table class="table" data-testid="jobs-table">
        <thead>
          <tr>
            <th>job</th>
            <th>type</th>
            <th>status</th>
            <th>progress</th>
            <th>verdict</th>
            <th>content hash</th>
            <th>file</th>
            <th class="num">age</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr key={j.id} data-testid="job-row" data-job-id={j.id}>
              <JobIdCell jobId={j.id} />
              <td>{j.type ?? "–"}</td>
              <td>
                <StatusBadge status={j.status} />
                {j.status === "failed" && (
                  <button class="link-button" title={j.failure ? `${j.failure.stage}: ${j.failure.code}` : "retry"} onClick={() => void retry(j.id)} data-testid="retry-row">
                    retry
                  </button>
                )}
              </td>
              <td>
                <Progress value={j.progress} />
              </td>
              <td>
                <VerdictBadge status={j.result?.status} />
              </td>
              <td class="mono muted">{shortHex(j.contentHash, 10)}</td>
              <td class="ellipsis">{j.fileName ?? "–"}</td>
              <td class="num">{formatAge(now - Date.parse(j.createdAt))}</td>
            </tr>
          ))}
          {page.data && jobs.length === 0 && (
            <tr>
              <td colSpan={8} class="empty">
                No jobs match.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <MoreButton next={older.next} onMore={older.loadMore}>
        Older jobs
      </MoreButton>
    </div>
  );
}
