import { useEffect, useState } from "preact/hooks";
import { ApiError, describeError, getJson, postJson } from "../api.js";
import { type ActionResult, Card, ErrorBanner, Link, ResultBanner } from "../components.js";
import { formatAge, formatBytes } from "../format.js";
import { usePoll } from "../poll.js";
import { navigate } from "../router.js";
import type { DeadLetter, DeadLetterSummary } from "../types.js";

const DLQ = "/api/dead-letters";

/** Says plainly when the key cannot read or replay dead letters (the `admin` scope). */
function scopeMessage(err: unknown, what: string): string | null {
  return err instanceof ApiError && err.status === 403 ? `This API key cannot ${what}: dead letters need a key with the admin scope.` : null;
}

export function DeadLettersView({ seq }: { seq: number | null }) {
  const list = usePoll((signal) => getJson<{ deadLetters: DeadLetterSummary[]; total: number; byConsumer: Record<string, number> }>(`${DLQ}?limit=100`, signal), 3000, []);
  const denied = scopeMessage(list.error, "read dead letters");
  return (
    <div class="view" data-testid="dead-letters-view">
      {denied ? (
        <div class="banner banner-error" role="alert" data-testid="error">
          {denied}
        </div>
      ) : (
        <ErrorBanner error={list.error} />
      )}
      <div class="split">
        <Card title={`Dead letters${list.data ? ` (${list.data.total})` : ""}`}>
          {list.data && list.data.deadLetters.length === 0 && <p class="muted">None: every consumer has used every message.</p>}
          {list.data && list.data.deadLetters.length > 0 && (
            <table class="table compact" data-testid="dead-letters-table">
              <thead>
                <tr>
                  <th class="num">seq</th>
                  <th>consumer</th>
                  <th>reason</th>
                  <th class="num">age</th>
                </tr>
              </thead>
              <tbody>
                {list.data.deadLetters.map((d) => (
                  <tr key={d.seq} class={d.seq === seq ? "selected" : ""} data-testid="dead-letter-row" data-seq={d.seq}>
                    <td class="num">
                      <Link to={{ name: "dead-letters", seq: d.seq }}>{d.seq}</Link>
                    </td>
                    <td>{d.consumer}</td>
                    <td class="ellipsis" title={d.reason}>
                      {d.reason}
                    </td>
                    <td class="num">{formatAge(Date.now() - Date.parse(d.deadLetteredAt))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        {seq !== null && <DeadLetterDetail seq={seq} onReplayed={list.refresh} />}
      </div>
    </div>
  );
}

function DeadLetterDetail({ seq, onReplayed }: { seq: number; onReplayed: () => void }) {
  const [letter, setLetter] = useState<DeadLetter | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<ActionResult | null>(null);
  useEffect(() => {
    setLetter(null);
    setError(null);
    setResult(null);
    getJson<DeadLetter>(`${DLQ}/${seq}`).then(setLetter, setError);
  }, [seq]);
  const replay = async () => {
    try {
      const r = await postJson<{ message: string }>(`${DLQ}/${seq}/replay`);
      setResult({ ok: true, text: r.message });
      onReplayed();
    } catch (err) {
      setResult({ ok: false, text: scopeMessage(err, "replay dead letters") ?? describeError(err) });
    }
  };
  const body = letter ? (letter.json !== null ? JSON.stringify(letter.json, null, 2) : letter.data) : "";
  return (
    <Card
      title={`Dead letter ${seq}`}
      testid="dead-letter"
      actions={
        <button class="button" onClick={() => void replay()} disabled={result?.ok === true} data-testid="replay">
          Replay
        </button>
      }
    >
      <ErrorBanner error={error} />
      <ResultBanner result={result} testid="replay-result" />
      {letter && (
        <>
          <dl class="facts">
            <dt>consumer</dt>
            <dd>{letter.consumer}</dd>
            <dt>subject</dt>
            <dd class="mono wrap">{letter.subject}</dd>
            <dt>reason</dt>
            <dd data-testid="dead-letter-reason">{letter.reason}</dd>
            <dt>original</dt>
            <dd>stream sequence {letter.streamSeq}</dd>
            <dt>size</dt>
            <dd>
              {formatBytes(letter.size)} ({letter.dataEncoding})
            </dd>
          </dl>
          <p class="muted small">Replaying puts the message back on its subject for {letter.consumer} only; it leaves the dead letters.</p>
          <pre class="code" data-testid="dead-letter-body">
            {body}
          </pre>
          <button class="button secondary" onClick={() => navigate({ name: "dead-letters", seq: null })}>
            Close
          </button>
        </>
      )}
    </Card>
  );
}
