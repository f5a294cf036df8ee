import { Objm } from "@nats-io/obj";
import { DEAD_LETTER_STREAM, JOBS_PATH, STREAM_NAME, UPLOADS_BUCKET, isTerminalType, pipeline, subjectsOf, type EventType } from "@veriflow/events";
import type { NatsClients } from "@veriflow/nats";
import type { Case, Expectation } from "./cases.js";
import { terminalCallbacksByJob, type ReceivedCallback } from "./callbacks.js";
import type { Submission } from "./load.js";
import { envelopeData, envelopeId, type TerminalRecorder } from "./terminal-recorder.js";

/** A terminal event as the stream holds it; `data` is null when its bytes are not an envelope. */
export interface TerminalEvent {
  jobId: string;
  type: EventType;
  seq: number;
  data: any;
  /** The envelope's id (consumers deduplicate by it); null when undecodable. */
  eventId?: string | null;
  /** Where the audit saw it: read from the stream after the drain, recorded as stored, or both. */
  source?: "stream" | "recorder" | "both";
  /** When the stream stored it (ms since the epoch). */
  storedAt?: number;
}

/** The last token of `veriflow.<type>.<jobId>`: the job, whatever the payload says. */
export const jobIdOf = (subject: string) => subject.slice(subject.lastIndexOf(".") + 1);

/** Messages per subject under `filter` (the stream's own bookkeeping: no message is read). */
async function subjectCounts(client: NatsClients, stream: string, filter: string): Promise<Record<string, number>> {
  const info = await client.jsm.streams.info(stream, { subjects_filter: filter });
  return info.state.subjects ?? {};
}

/** Job ids with at least one event of `type` in the stream. */
export async function jobsWith(client: NatsClients, type: EventType): Promise<Set<string>> {
  return new Set(Object.keys(await subjectCounts(client, STREAM_NAME, subjectsOf(type))).map(jobIdOf));
}

/** Every terminal event in the stream, read by subject (`veriflow.verification.completed.*`, `….failed.*`). */
export async function readTerminalEvents(client: NatsClients): Promise<TerminalEvent[]> {
  const out: TerminalEvent[] = [];
  for (const type of pipeline.terminal) {
    const filter = subjectsOf(type);
    const total = Object.values(await subjectCounts(client, STREAM_NAME, filter)).reduce((a, b) => a + b, 0);
    if (total === 0) continue;
    // An ordered consumer: ephemeral, server-side state only while it reads.
    const consumer = await client.js.consumers.get(STREAM_NAME, { filter_subjects: filter });
    let read = 0;
    const deadline = Date.now() + 60_000;
    while (read < total && Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
      for await (const m of batch) {
        read++;
        out.push({ jobId: jobIdOf(m.subject), type, seq: m.seq, data: envelopeData(m.data), eventId: envelopeId(m.data), source: "stream", storedAt: m.info.timestampNanos / 1e6 });
      }
    }
    if (read < total) throw new Error(`read ${read} of ${total} messages on ${filter}`);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Names of the objects in the uploads bucket (deleted ones excluded). */
export async function listUploads(client: NatsClients): Promise<string[]> {
  const bucket = await new Objm(client.js).open(UPLOADS_BUCKET);
  return (await bucket.list()).filter((o) => !o.deleted).map((o) => o.name);
}

/** Every job's status as the REST API answers it (the status service's projection), or null when it does not answer. */
export async function readStatuses(gatewayUrl: string): Promise<Map<string, string> | null> {
  const statuses = new Map<string, string>();
  try {
    for (let offset = 0; ; offset += 100) {
      const res = await fetch(`${gatewayUrl}${JOBS_PATH}?limit=100&offset=${offset}`, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) return null;
      const body = (await res.json()) as { jobs: { id: string; status: string }[]; total: number };
      for (const j of body.jobs) statuses.set(j.id, j.status);
      if (body.jobs.length < 100 || offset + 100 >= body.total) return statuses;
    }
  } catch {
    return null;
  }
}

/** A job's events in the stream, as `type×count` (both priority classes): what a lost job got to. */
export async function eventsInStream(client: NatsClients, jobId: string): Promise<string> {
  const found: string[] = [];
  for (const filter of [`veriflow.*.*.${jobId}`, `veriflow.*.*.bulk.${jobId}`]) {
    for (const [subject, n] of Object.entries(await subjectCounts(client, STREAM_NAME, filter))) found.push(`${subject.split(".").slice(1, 3).join(".")}×${n}`);
  }
  return found.join(", ") || "none";
}

/** Messages set aside in the dead-letter stream. */
export async function deadLettered(client: NatsClients): Promise<number> {
  return (await client.jsm.streams.info(DEAD_LETTER_STREAM)).state.messages;
}

/** Why a terminal event does not match what the case must end with (null when it does). */
export function mismatch(expect: Expectation, contentHash: string, event: { type: string; data: any }): string | null {
  if (event.data === null) return "undecodable terminal event";
  if (expect.outcome === "failed") {
    if (event.type !== "verification.failed") return `completed (${event.data.result?.status}) where ${expect.stage}/${expect.code} failure was due`;
    if (event.data.stage !== expect.stage || event.data.code !== expect.code) return `failed ${event.data.stage}/${event.data.code}, not ${expect.stage}/${expect.code}`;
    return null;
  }
  if (event.type !== "verification.failed") return verdictMismatch(expect, contentHash, event.data.result, event.data.contentHash);
  return `failed ${event.data.stage}/${event.data.code} where ${expect.status} was due`;
}

/** A verdict against the expected one: status, reasons (in order), and the file's hash. */
export function verdictMismatch(expect: Expectation & { outcome: "completed" }, contentHash: string, result: any, reportedHash?: string): string | null {
  const reasons = (result?.reasons as string[] | undefined)?.join(",") ?? "?";
  if (result?.status !== expect.status || reasons !== expect.reasons.join(",")) return `${result?.status}[${reasons}] where ${expect.status}[${expect.reasons.join(",")}] was due`;
  const hash = reportedHash ?? result?.fileHash;
  if (hash !== contentHash) return `hash ${hash} where ${contentHash} was due`;
  return null;
}

/** Why an in-process answer (a verdict, or a 422 failure code) does not match the case. */
function syncMismatch(c: Case, result: any, failureCode: string | null): string | null {
  const expect = c.expect;
  if (expect.outcome === "failed") return failureCode === expect.code ? null : `${failureCode ?? `verdict ${result?.status}`} where ${expect.code} was due`;
  if (failureCode !== null) return `failure ${failureCode} where ${expect.status} was due`;
  return verdictMismatch(expect, c.contentHash, result);
}

export interface Counts {
  submitted: number;
  accepted: number;
  completed: number;
  failed: number;
  /** Accepted, never terminal by the end of the drain. */
  lost: number;
  /**
   * More than one outcome for one job: terminal events that differ (id, type or content). A
   * second stored copy of the same event (same id, same bytes) is not one: see Audit.copies.
   */
  doubled: number;
  /** A terminal event (or synchronous answer) other than the case's expectation. */
  wrong: number;
  /** Uploads left for jobs that are terminal or that the stream never heard of (refused). */
  orphaned: number;
  /** Ended jobs with a callbackUrl whose receiver did not get exactly one terminal event. */
  undelivered: number;
  /** Ended jobs whose status (REST, from the projection) is not the stream's terminal outcome. */
  stale: number;
}

export const FAULT_COUNTS = ["lost", "doubled", "wrong", "orphaned", "undelivered", "stale"] as const satisfies readonly (keyof Counts)[];

export interface Audit {
  counts: Counts;
  /**
   * Extra stored copies of a terminal event (same id, same content) at other stream
   * sequences. Every consumer drops them by event id (the projection, webhooks' unique
   * (event_id, target), batches), so they are no doubled job; nats-server 2.9 can store a
   * retried publish twice across a leader change (its dedupe map is not carried to the new
   * leader: nats-io/nats-server#6485/#6486, fixed in 2.11). Reported, with where each was seen.
   */
  copies: number;
  /** The lost jobs' ids (Counts.lost of them), for a closer look at what each got to. */
  lostJobIds: string[];
  /** Client-side outcomes besides 202: refusals by status/code, sync answers, unanswered. */
  refused: number;
  sync: number;
  unanswered: number;
  notes: string[];
}

/** Everything a scenario's counts are computed from, read once after the drain. */
export interface Evidence {
  subs: readonly Submission[];
  terminal: readonly TerminalEvent[];
  requested: ReadonlySet<string>;
  uploads: readonly string[];
  statuses: ReadonlyMap<string, string> | null;
  callbacks: readonly ReceivedCallback[];
  deadLettered: number;
  /** Job ids of messages the fault planted (poison): not jobs of the load. */
  planted: ReadonlySet<string>;
  /** JetStream file storage in use after the drain (events, uploads left, dead letters). */
  storeBytes: number;
  /** The same, per stream: what filled a small store. */
  streamBytes: ReadonlyMap<string, number>;
}

/** Terminal events from both sources, once each (the stream may have discarded some the recorder saw). */
function mergeBySeq(...lists: (readonly TerminalEvent[])[]): TerminalEvent[] {
  const bySeq = new Map<number, TerminalEvent>();
  for (const list of lists)
    for (const t of list) {
      const seen = bySeq.get(t.seq);
      // The same message seen by both; a sequence whose content differs between the two is kept as the stream has it.
      bySeq.set(t.seq, seen && seen.source !== t.source && seen.eventId === t.eventId ? { ...t, source: "both" } : t);
    }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

export async function collectEvidence(
  client: NatsClients,
  recorded: TerminalRecorder,
  gatewayUrl: string,
  subs: readonly Submission[],
  callbacks: readonly ReceivedCallback[],
  planted: readonly string[] = [],
): Promise<Evidence> {
  return {
    subs,
    planted: new Set(planted),
    terminal: mergeBySeq(recorded.events(), await readTerminalEvents(client)),
    requested: await jobsWith(client, "verification.requested"),
    uploads: await listUploads(client),
    statuses: await readStatuses(gatewayUrl),
    callbacks,
    deadLettered: await deadLettered(client),
    storeBytes: (await client.jsm.getAccountInfo()).storage,
    streamBytes: await bytesPerStream(client),
  };
}

async function bytesPerStream(client: NatsClients): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const s of client.jsm.streams.list()) out.set(s.config.name, s.state.bytes);
  return out;
}

/** The scenario's counts from the evidence (pure: see each field of Counts for its rule). */
export function countFaults(e: Evidence): Audit {
  const notes: string[] = [];
  const samples = new Map<string, string[]>();
  const sample = (what: string, line: string) => {
    const list = samples.get(what) ?? [];
    if (list.length < 3) list.push(line);
    samples.set(what, list);
  };
  const byJob = new Map<string, TerminalEvent[]>();
  for (const t of e.terminal) byJob.set(t.jobId, [...(byJob.get(t.jobId) ?? []), t]);
  const cbByJob = terminalCallbacksByJob(e.callbacks);
  const counts: Counts = { submitted: e.subs.length, accepted: 0, completed: 0, failed: 0, lost: 0, doubled: 0, wrong: 0, orphaned: 0, undelivered: 0, stale: 0 };
  let refused = 0;
  let copies = 0;
  const lostJobIds: string[] = [];
  let sync = 0;
  let unanswered = 0;
  const refusals = new Map<string, number>();

  for (const s of e.subs) {
    const o = s.outcome;
    if (o.kind === "refused" || o.kind === "unanswered") {
      if (o.kind === "refused") refused++;
      else unanswered++;
      const key = o.kind === "refused" ? `${o.status} ${o.code}` : `no answer (${o.error})`;
      refusals.set(key, (refusals.get(key) ?? 0) + 1);
      continue;
    }
    if (o.kind === "sync") {
      sync++;
      const why = syncMismatch(s.case, o.result, o.failureCode);
      if (why) {
        counts.wrong++;
        sample("wrong", `in-process answer #${s.index} (${s.case.kind}): ${why}`);
      }
      continue;
    }
    counts.accepted++;
    const events = byJob.get(o.jobId) ?? [];
    if (events.length === 0) {
      counts.lost++;
      lostJobIds.push(o.jobId);
      sample("lost", `${o.jobId} (${s.case.kind}${s.callback ? ", callback" : ""}; request ${e.requested.has(o.jobId) ? "in the stream" : "NOT in the stream"})`);
      continue;
    }
    if (events[0]!.type === "verification.completed") counts.completed++;
    else counts.failed++;
    const outcomes = new Set(events.map(outcomeKey));
    copies += events.length - outcomes.size;
    if (events.length > outcomes.size) sample("copied", describeEvents(o.jobId, events));
    if (outcomes.size > 1) {
      counts.doubled++;
      sample("doubled", describeEvents(o.jobId, events));
    }
    const why = events.map((t) => mismatch(s.case.expect, s.case.contentHash, t)).find((m) => m !== null);
    if (why) {
      counts.wrong++;
      sample("wrong", `${o.jobId} (${s.case.kind}): ${why}`);
    }
    if (s.callback) {
      const got = cbByJob.get(o.jobId)?.size ?? 0;
      if (got !== 1) {
        counts.undelivered++;
        sample("undelivered", `${o.jobId}: ${got} terminal callbacks`);
      }
    }
    const status = e.statuses?.get(o.jobId);
    const due = events[0]!.type === "verification.completed" ? "completed" : "failed";
    if (status !== due) {
      counts.stale++;
      sample("stale", `${o.jobId}: status ${status ?? (e.statuses ? "unknown" : "API down")} where ${due} was due`);
    }
  }

  // An upload may stay only for a job the stream has a request for and no terminal event
  // (lost, or still owed): every other object is an orphan.
  for (const name of e.uploads) {
    const owed = e.requested.has(name) && !byJob.has(name);
    if (!owed) {
      counts.orphaned++;
      sample("orphaned", `${name} (${byJob.has(name) ? "job ended" : "no request in the stream"})`);
    }
  }

  const answered = new Set(e.subs.flatMap((s) => (s.outcome.kind === "accepted" ? [s.outcome.jobId] : [])));
  const unacknowledged = [...e.requested].filter((id) => !answered.has(id) && !e.planted.has(id));
  if (unacknowledged.length) {
    const never = unacknowledged.filter((id) => !byJob.has(id)).length;
    notes.push(`${unacknowledged.length} requests in the stream without a 202 to the client (${never} never ended)`);
  }
  if (refusals.size) notes.push(`not accepted: ${[...refusals].map(([k, n]) => `${n}× ${k}`).join(", ")}`);
  const terminalPosts = e.callbacks.filter((c) => isTerminalType(c.type as EventType));
  const distinct = new Set(terminalPosts.map((c) => c.eventId)).size;
  if (terminalPosts.length > distinct) notes.push(`callbacks: ${terminalPosts.length - distinct} redeliveries of the same webhook-id (allowed: receivers dedupe)`);
  const unsigned = e.callbacks.filter((c) => !c.signed).length;
  if (unsigned) notes.push(`callbacks: ${unsigned} with a signature that did not verify`);
  if (copies) notes.push(`terminal events stored twice (same id and content, dropped by every consumer; not doubled): ${copies}`);
  if (e.deadLettered) notes.push(`dead-lettered: ${e.deadLettered}`);
  notes.push(`JetStream storage after the drain: ${(e.storeBytes / 1024).toFixed(0)} KiB (${e.requested.size ? (e.storeBytes / e.requested.size / 1024).toFixed(1) : "-"} KiB per request in the stream; ${[...e.streamBytes].map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)}`).join(", ")} KiB)`);
  if (e.statuses === null) notes.push("the job list (status service) did not answer after the drain");
  for (const [what, lines] of samples) notes.push(`e.g. ${what}: ${lines.join("; ")}`);
  return { counts, copies, lostJobIds, refused, sync, unanswered, notes };
}

/** One outcome: an event's id, type and content; an event without an id is an outcome of its own. */
const outcomeKey = (t: TerminalEvent) => (t.eventId ? `${t.eventId}|${t.type}|${JSON.stringify(t.data)}` : `seq ${t.seq}`);

const describeEvents = (jobId: string, events: readonly TerminalEvent[]) =>
  `${jobId}: ${events.map((t) => `${t.type.split(".")[1]}@${t.seq} id ${t.eventId?.slice(0, 8) ?? "?"} (${t.source ?? "?"})`).join(", ")}`;

export interface DrainOptions {
  /** Give up when nothing moved for this long (no job ended, no callback came, no status changed). */
  stallMs: number;
  /** Give up after this long in any case. */
  maxMs: number;
}

/**
 * After the load and the fault: waits until every accepted job has a terminal event (in the
 * stream, or recorded before the stream discarded it), every ended job with a callbackUrl has had a terminal callback, and the job list
 * shows every ended job as ended; or until nothing moves for `stallMs`.
 */
export async function drain(
  client: NatsClients,
  recorded: TerminalRecorder,
  gatewayUrl: string,
  subs: readonly Submission[],
  callbacks: () => readonly ReceivedCallback[],
  opts: DrainOptions,
): Promise<{ waitedS: number; ended: "everything ended" | "stalled" | "timed out" }> {
  const started = Date.now();
  const accepted = subs.flatMap((s) => (s.outcome.kind === "accepted" ? [{ jobId: s.outcome.jobId, callback: s.callback }] : []));
  let last = "";
  let lastMove = Date.now();
  for (;;) {
    const ended = new Set<string>(recorded.events().map((t) => t.jobId));
    for (const type of pipeline.terminal) for (const id of await jobsWith(client, type).catch(() => new Set<string>())) ended.add(id);
    const endedJobs = accepted.filter((j) => ended.has(j.jobId));
    const called = terminalCallbacksByJob(callbacks());
    const owedCallbacks = endedJobs.filter((j) => j.callback && !called.has(j.jobId)).length;
    const statuses = await readStatuses(gatewayUrl);
    const shown = statuses === null ? -1 : endedJobs.filter((j) => ["completed", "failed"].includes(statuses.get(j.jobId) ?? "")).length;
    const waitedS = (Date.now() - started) / 1000;
    if (endedJobs.length === accepted.length && owedCallbacks === 0 && shown === endedJobs.length) return { waitedS, ended: "everything ended" };
    const state = `${endedJobs.length}/${owedCallbacks}/${shown}`;
    if (state !== last) {
      last = state;
      lastMove = Date.now();
    } else if (Date.now() - lastMove > opts.stallMs) return { waitedS, ended: "stalled" };
    if (Date.now() - started > opts.maxMs) return { waitedS, ended: "timed out" };
    await new Promise((r) => setTimeout(r, 1000));
  }
}
