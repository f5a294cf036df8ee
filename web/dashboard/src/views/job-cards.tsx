import { Card, VerdictBadge } from "../components.js";
import { formatClock, formatDuration } from "../format.js";
import type { Deliveries, HistoryEvent, Job } from "../types.js";
import { explainChecks, explainReasons, verdictHeadline } from "../verdict.js";

/** The job page's cards: the timeline, the verdict in words, the proof document, the webhook deliveries. */

export function Timeline({ events, createdAt }: { events: HistoryEvent[]; createdAt: string }) {
  const t0 = Date.parse(createdAt);
  return (
    <Card title="Event timeline" testid="timeline">
      {events.length === 0 && <p class="muted">No events recorded yet.</p>}
      <ol class="timeline">
        {events.map((e, i) => {
          const prev = events[i - 1];
          return (
            <li key={e.id} class={`tl tl-${e.type.replace(/\./g, "-")}`}>
              <span class="tl-dot" />
              <span class="tl-type">{e.type}</span>
              {e.run > 1 && <span class="tag">run {e.run}</span>}
              <span class="tl-time muted">
                {formatClock(e.occurredAt)} · +{formatDuration(Date.parse(e.occurredAt) - (prev ? Date.parse(prev.occurredAt) : t0))}
              </span>
            </li>
          );
        })}
      </ol>
    </Card>
  );
}

export function Verdict({ job }: { job: Job }) {
  const result = job.result!;
  const reasons = explainReasons(result.reasons);
  return (
    <Card title="Verdict" testid="verdict">
      <p class="headline">
        <VerdictBadge status={result.status} /> <span data-testid="verdict-text">{verdictHeadline(result)}</span>
      </p>
      {reasons.length > 0 && (
        <ul class="reasons">
          {reasons.map((r) => (
            <li>{r}</li>
          ))}
        </ul>
      )}
      <ul class="checks">
        {explainChecks(result.checks).map((c) => (
          <li class={c.ok ? "check-ok" : "check-fail"}>
            <span class="check-mark">{c.ok ? "✓" : "✗"}</span>
            <strong>{c.label}.</strong> {c.text}
          </li>
        ))}
      </ul>
      {result.onchain && (
        <p class="muted small">
          On-chain creator <span class="mono">{result.onchain.creator ?? "none"}</span>
          {result.onchain.blockNumber ? `, read at block ${result.onchain.blockNumber}` : ""}; signer{" "}
          <span class="mono">{result.recovered ?? "none"}</span>.
        </p>
      )}
    </Card>
  );
}

export function ProofDocument({ job }: { job: Job }) {
  const text = JSON.stringify(job.result, null, 2);
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `proof-${job.id}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <Card
      title="Proof document"
      testid="proof"
      actions={
        <button class="button secondary" onClick={download} data-testid="download-proof">
          Download JSON
        </button>
      }
    >
      <p class="muted small">Self-contained: anyone can re-check it against the chain (the registration transaction, the manifest and the verdict).</p>
      <pre class="code">{text}</pre>
    </Card>
  );
}

export function DeliveriesCard({ deliveries }: { deliveries: Deliveries | null }) {
  return (
    <Card title="Webhook deliveries" testid="deliveries">
      {!deliveries && <p class="muted">–</p>}
      {deliveries && deliveries.deliveries.length === 0 && (
        <p class="muted">{deliveries.callbackUrl ? `Callback to ${deliveries.callbackUrl}: nothing sent yet.` : "No callback URL and no subscription heard this job."}</p>
      )}
      {deliveries && deliveries.deliveries.length > 0 && (
        <table class="table compact">
          <thead>
            <tr>
              <th>event</th>
              <th>to</th>
              <th>status</th>
              <th class="num">attempts</th>
              <th>last answer</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.deliveries.map((d) => (
              <tr key={d.id}>
                <td>{d.eventType}</td>
                <td class="ellipsis mono">{d.url}</td>
                <td>{d.status}</td>
                <td class="num">{d.attemptCount}</td>
                <td>{d.lastStatusCode ?? d.lastError ?? "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
