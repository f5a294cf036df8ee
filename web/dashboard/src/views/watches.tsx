import { useState } from "preact/hooks";
// The watches' paths as the services declare them (this file of the package has no imports).
import { WATCHES_PATH, watchPath } from "../../../../libs/events/src/jobs-api.js";
import { ApiError, deleteResource, describeError, getJson } from "../api.js";
import { type ActionResult, ErrorBanner, JobIdCell, MoreButton, ResultBanner, StatusBadge, VerdictBadge } from "../components.js";
import { formatAge, formatCount, formatPeriod, shortHex } from "../format.js";
import { useOlderPages } from "../paging.js";
import { usePoll } from "../poll.js";
import type { Watch, WatchList } from "../types.js";
import { explainFailure, explainReasons, verdictHeadline, verdictInBrief } from "../verdict.js";
import { WatchForm } from "./watch-form.js";

const PAGE = 50;

type Shown = "all" | "active" | "stopped";

function listPath(shown: Shown, cursor?: string): string {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (shown !== "all") q.set("active", String(shown === "active"));
  if (cursor) q.set("cursor", cursor);
  return `${WATCHES_PATH}?${q}`;
}

/** Says plainly when the key cannot stop a watch (the `submit` scope). */
function stopError(err: unknown): string {
  return err instanceof ApiError && err.status === 403 ? "This API key cannot stop watches: that needs a key with the submit scope." : describeError(err);
}

/**
 * The key's tenant's watches, newest first, polled as the jobs table is. A watch's id is its
 * job's, so each row opens the job page (its events and every verdict it has had).
 */
export function WatchesView() {
  const [shown, setShown] = useState<Shown>("all");
  const [result, setResult] = useState<ActionResult | null>(null);
  const page = usePoll((signal) => getJson<WatchList>(listPath(shown), signal), 2000, [shown]);
  const older = useOlderPages(page.data?.nextCursor ?? null, async (cursor) => {
    const more = await getJson<WatchList>(listPath(shown, cursor));
    return { items: more.watches, next: more.nextCursor };
  });
  const stop = async (watchId: string) => {
    try {
      await deleteResource(watchPath(watchId));
      const stopped = await getJson<Watch>(watchPath(watchId));
      older.replace((w) => (w.watchId === watchId ? stopped : w));
      page.refresh();
      setResult({ ok: true, text: `${watchId.slice(0, 8)}: stopped, no longer re-verified.` });
    } catch (err) {
      setResult({ ok: false, text: `${watchId.slice(0, 8)}: ${stopError(err)}` });
    }
  };
  const watches = [...(page.data?.watches ?? []), ...older.items];
  const now = Date.now();
  return (
    <div class="view" data-testid="watches-view">
      <div class="toolbar">
        <select
          aria-label="Watches shown"
          data-testid="filter-active"
          value={shown}
          onChange={(e) => {
            older.reset();
            setShown(e.currentTarget.value as Shown);
          }}
        >
          <option value="all">all watches</option>
          <option value="active">active</option>
          <option value="stopped">stopped</option>
        </select>
        <span class="muted count" data-testid="watch-count">
          {page.data ? `${formatCount(watches.length)} shown of ${formatCount(page.data.total)}` : "loading…"}
        </span>
        <span class="spacer" />
        <WatchForm />
      </div>
      <ErrorBanner error={page.error ?? older.error} />
      <ResultBanner result={result} testid="stop-result" />
      <table class="table" data-testid="watches-table">
        <thead>
          <tr>
            <th>watch</th>
            <th>content hash</th>
            <th>state</th>
            <th>verdict</th>
            <th class="num">verified</th>
            <th>re-check</th>
            <th class="num" title="Verdicts this watch had before the current one">earlier</th>
          </tr>
        </thead>
        <tbody>
          {watches.map((w) => (
            <tr key={w.watchId} data-testid="watch-row" data-watch-id={w.watchId}>
              <JobIdCell jobId={w.watchId} />
              <td class="mono muted" title={w.contentHash}>
                {shortHex(w.contentHash, 10)}
              </td>
              <td>
                <span class={`badge badge-${w.active ? "active" : "stopped"}`} data-testid="watch-state" title={w.stoppedAt ? `stopped ${w.stoppedAt}` : undefined}>
                  {w.active ? "active" : "stopped"}
                </span>
                {w.active && (
                  <button class="link-button" onClick={() => void stop(w.watchId)} data-testid="stop-watch">
                    stop
                  </button>
                )}
              </td>
              <td data-testid="watch-verdict">
                <WatchVerdict watch={w} />
              </td>
              <td class="num" title={w.verifiedAt ?? undefined}>
                {w.verifiedAt ? `${formatAge(now - Date.parse(w.verifiedAt))} ago` : "–"}
              </td>
              <td title="Every watch is re-verified when its registry entry changes; a schedule re-verifies it as well.">
                {w.recheckEverySeconds ? `every ${formatPeriod(w.recheckEverySeconds)}` : "on change"}
              </td>
              <td class="num">{w.verdictHistory.length}</td>
            </tr>
          ))}
          {page.data && watches.length === 0 && (
            <tr>
              <td colSpan={7} class="empty">
                No watches{shown === "all" ? "" : ` ${shown}`}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <MoreButton next={older.next} onMore={older.loadMore}>
        Older watches
      </MoreButton>
    </div>
  );
}

/** The current verdict in words with its reasons; before the first, where the job is. */
function WatchVerdict({ watch }: { watch: Watch }) {
  const v = watch.verdict;
  if (!v) {
    return (
      <span title={watch.status === "failed" ? explainFailure(watch.failure) : undefined}>
        <StatusBadge status={watch.status} />
      </span>
    );
  }
  return (
    <>
      <VerdictBadge status={v.status} /> <span title={verdictHeadline(v)}>{verdictInBrief(v.status)}</span>
      {(v.reasons?.length ?? 0) > 0 && (
        <ul class="reasons small">
          {explainReasons(v.reasons).map((r) => (
            <li>{r}</li>
          ))}
        </ul>
      )}
    </>
  );
}
