import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { getJson } from "../api.js";
import { Card, ErrorBanner, Link, Stat } from "../components.js";
import { formatCount, formatDuration } from "../format.js";
import { usePoll } from "../poll.js";
import type { Pipeline, PipelineConsumer } from "../types.js";
import { minuteSeries, rates, type Sample } from "../pipeline-series.js";

/**
 * The pipeline, live: each consumer's backlog (waiting + in flight) and in-flight count, its
 * rate (messages acknowledged per second between two polls), each stage's p50/p95 latency
 * and the tenant's completions and failures per minute over the last hour.
 */
export function PipelineView() {
  const previous = useRef<Sample | null>(null);
  const rate = useRef<Record<string, number>>({});
  const pipeline = usePoll(
    async (signal) => {
      const p = await getJson<Pipeline>("/api/pipeline", signal);
      const sample: Sample = { at: Date.parse(p.generatedAt), acked: Object.fromEntries((p.consumers ?? []).map((c) => [c.durable, c.acked])) };
      if (previous.current) rate.current = rates(previous.current, sample);
      previous.current = sample;
      return p;
    },
    2000,
    [],
  );
  const p = pipeline.data;
  const latency = new Map((p?.latency.stages ?? []).map((s) => [s.stage, s]));
  const minutes = p?.throughput.minutes ?? [];
  const lastHour = minutes.reduce((n, m) => ({ completed: n.completed + m.completed, failed: n.failed + m.failed }), { completed: 0, failed: 0 });
  const backlog = (p?.consumers ?? []).filter((c) => c.kind === "stage").reduce((n, c) => n + c.backlog, 0);
  return (
    <div class="view" data-testid="pipeline-view">
      <ErrorBanner error={pipeline.error} />
      {p && !p.streamAvailable && <div class="banner banner-error">NATS JetStream does not answer: consumer figures are unavailable.</div>}
      <div class="stats">
        <Stat label="unfinished (all stages)" value={formatCount(p ? backlog : null)} tone={backlog > 0 ? "active" : undefined} testid="pipeline-backlog" />
        <Stat label="completed, last hour" value={formatCount(p ? lastHour.completed : null)} tone="ok" />
        <Stat label="failed, last hour" value={formatCount(p ? lastHour.failed : null)} tone="fail" />
        <Stat label="dead letters" value={formatCount(p?.deadLetters?.total)} tone={p?.deadLetters?.total ? "fail" : undefined} testid="pipeline-dlq" />
      </div>
      <Card title="Stages and observers" testid="consumers">
        <table class="table">
          <thead>
            <tr>
              <th>consumer</th>
              <th>kind</th>
              <th class="num">waiting</th>
              <th class="num">in flight</th>
              <th class="num">backlog</th>
              <th class="num">acked / s</th>
              <th class="num">p50</th>
              <th class="num">p95</th>
              <th class="num">dead letters</th>
            </tr>
          </thead>
          <tbody>
            {(p?.consumers ?? []).map((c: PipelineConsumer) => {
              const l = latency.get(c.service);
              return (
                <tr key={c.durable} data-testid="consumer-row" data-consumer={c.durable}>
                  <td>
                    <strong>{c.service}</strong> {!c.exists && <span class="tag tag-warn">not started</span>}
                  </td>
                  <td class="muted">{c.kind}</td>
                  <td class="num">{formatCount(c.waiting)}</td>
                  <td class="num">{formatCount(c.inFlight)}</td>
                  <td class={`num ${c.backlog > 0 ? "strong" : ""}`}>{formatCount(c.backlog)}</td>
                  <td class="num">{rate.current[c.durable] === undefined ? "–" : rate.current[c.durable]!.toFixed(1)}</td>
                  <td class="num">{l ? formatDuration(l.p50Ms) : "–"}</td>
                  <td class="num">{l ? formatDuration(l.p95Ms) : "–"}</td>
                  <td class="num">
                    {p?.deadLetters?.byConsumer[c.durable] ? <Link to={{ name: "dead-letters", seq: null }}>{formatCount(p.deadLetters.byConsumer[c.durable])}</Link> : "0"}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <p class="muted small">
          Backlogs, rates and dead-letter counts are the whole system's (every tenant's work shares these queues); latencies are your tenant's, over its{" "}
          {p?.latency.sampleJobs ?? 200} most recently finished jobs.
        </p>
      </Card>
      <Card title="Completions and failures per minute (last hour, your tenant)" testid="throughput">
        <ThroughputChart minutes={minutes} since={p?.throughput.since ?? null} />
      </Card>
    </div>
  );
}

function ThroughputChart({ minutes, since }: { minutes: Pipeline["throughput"]["minutes"]; since: string | null }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!box.current || !since) return;
    const data = minuteSeries(minutes, Date.parse(since), Date.now());
    if (!chart.current) {
      chart.current = new uPlot(
        {
          width: Math.max(320, box.current.clientWidth),
          height: 220,
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.15)] } },
          axes: [{ stroke: "#5b6473", grid: { stroke: "#eef0f3" } }, { stroke: "#5b6473", grid: { stroke: "#eef0f3" } }],
          series: [
            {},
            { label: "completed", stroke: "#1f9d55", fill: "rgba(31,157,85,0.12)", width: 2, points: { show: false } },
            { label: "failed", stroke: "#d64545", fill: "rgba(214,69,69,0.10)", width: 2, points: { show: false } },
          ],
        },
        data,
        box.current,
      );
    } else chart.current.setData(data);
  }, [minutes, since]);
  useEffect(() => () => chart.current?.destroy(), []);
  return <div ref={box} class="chart" data-testid="throughput-chart" />;
}
