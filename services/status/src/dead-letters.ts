import type { Router } from "@koa/router";
import type { Principal } from "@veriflow/auth";
import { DeadLetterQuery, readQueryFields, refuseQueryProblems, type Query } from "@veriflow/api";
import { DEAD_LETTERS_PATH, tenantOfBytes } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import { createRouter, principalOf, requireScope } from "@veriflow/http";
import { NotReplayableError, type DeadLetter, type DeadLetterCounts, type DeadLetterPage, type Replayed } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";

/** The dead-letter stream as the edges use it (NATS calls in service.ts). */
export interface DeadLetterStore {
  list(query: { consumer?: string; after?: number; limit: number }): Promise<DeadLetterPage>;
  count(): Promise<DeadLetterCounts>;
  get(seq: number): Promise<DeadLetter | null>;
  replay(seq: number): Promise<Replayed | null>;
}

/** Messages read per request while a tenant's dead letters are looked for among everyone's. */
const SCAN_BATCH = 100;

/**
 * Whose a dead letter is: the tenant its bytes name (tenantOfBytes). A bootstrap key (or
 * open development access) sees every dead letter, also those of bytes that name nobody
 * (not an envelope at all); a tenant's admin key sees its own tenant's only.
 */
const visibleTo = (principal: Principal, d: DeadLetter) => principal.allTenants || tenantOfBytes(d.data) === principal.tenant;

const notFound = (seq: number) => new HttpError("E_DEAD_LETTER_NOT_FOUND", `no dead letter ${seq} (replayed, aged out, or never set aside)`);

type ListQuery = { consumer?: string; after?: number; limit: number };

/** What REST and gRPC both do with dead letters: the lookups for a principal, with the API's errors. */
export function createDeadLetters(store: DeadLetterStore, log: Logger) {
  /**
   * One tenant's dead letters: the stream holds everyone's, in one sequence, so it is read
   * whole (dead letters are rare, and this is an admin's occasional call) and counted as the
   * stream would count that tenant's alone.
   */
  const listOwn = async (query: ListQuery, principal: Principal) => {
    const own: DeadLetter[] = [];
    for (let after = 0; ; ) {
      const batch = await store.list({ after, limit: SCAN_BATCH });
      // A list shows no bytes: only what it shows is kept while the rest is read.
      own.push(...batch.deadLetters.filter((d) => visibleTo(principal, d)).map((d) => ({ ...d, data: new Uint8Array(0) })));
      if (batch.next === null) break;
      after = batch.next;
    }
    const byConsumer: Record<string, number> = {};
    for (const d of own) byConsumer[d.consumer] = (byConsumer[d.consumer] ?? 0) + 1;
    const matching = own.filter((d) => query.consumer === undefined || d.consumer === query.consumer);
    const rest = matching.filter((d) => d.seq > (query.after ?? 0));
    const deadLetters = rest.slice(0, query.limit);
    return { deadLetters, next: rest.length > query.limit ? deadLetters.at(-1)!.seq : null, total: matching.length, byConsumer };
  };

  const get = async (seq: number, principal: Principal): Promise<DeadLetter> => {
    const found = await store.get(seq);
    if (!found || !visibleTo(principal, found)) throw notFound(seq);
    return found;
  };

  return {
    get,
    async list(query: ListQuery, principal: Principal) {
      if (!principal.allTenants) return listOwn(query, principal);
      const [page, counts] = await Promise.all([store.list(query), store.count()]);
      const total = query.consumer === undefined ? counts.total : (counts.byConsumer[query.consumer] ?? 0);
      return { ...page, total, byConsumer: counts.byConsumer };
    },
    async replay(seq: number, principal: Principal): Promise<Replayed> {
      if (!principal.allTenants) await get(seq, principal);
      let replayed: Replayed | null;
      try {
        replayed = await store.replay(seq);
      } catch (err) {
        if (err instanceof NotReplayableError) throw new HttpError("E_DEAD_LETTER_NOT_REPLAYABLE", err.message, { cause: err });
        throw err;
      }
      if (!replayed) throw notFound(seq);
      const { deadLetter: d } = replayed;
      log.info({ seq, consumer: d.consumer, subject: d.subject, streamSeq: replayed.streamSeq }, "dead letter replayed");
      return replayed;
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;

/** A dead letter as the list shows it: where it came from and why, without its bytes. */
export function toApiDeadLetterSummary(d: DeadLetter) {
  return {
    seq: d.seq,
    consumer: d.consumer,
    subject: d.subject,
    streamSeq: d.streamSeq,
    reason: d.reason,
    deadLetteredAt: d.deadLetteredAt.toISOString(),
    size: d.size,
  };
}

/**
 * A dead letter in full: its headers and bytes, as UTF-8 text when they are (base64
 * otherwise), and as JSON when they parse (an event a handler refused, say).
 */
export function toApiDeadLetter(d: DeadLetter) {
  let text: string | null = null;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(d.data);
  } catch {
    text = null;
  }
  let json: unknown = null;
  if (text !== null) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  return {
    ...toApiDeadLetterSummary(d),
    headers: d.headers,
    dataEncoding: text === null ? "base64" : "utf8",
    data: text ?? Buffer.from(d.data).toString("base64"),
    json,
  };
}

/** A sequence from a path or request: a positive integer. */
export function parseDeadLetterSeq(raw: string): number {
  const seq = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw new HttpError("E_INVALID_DEAD_LETTER_SEQ", `a dead letter is named by its sequence, a positive integer; got "${raw.slice(0, 32)}"`);
  }
  return seq;
}

/** `consumer`, `after` (a sequence, default 0) and `limit` (default 20, capped at 100), by the published DeadLetterQuery; every problem at once. */
export function parseDeadLetterQuery(query: Query): { consumer?: string; after: number; limit: number } {
  const { values, problems } = readQueryFields(DeadLetterQuery, query);
  refuseQueryProblems(problems);
  // No problem: after and limit were read (absent ones as their defaults).
  return { ...(values.consumer !== undefined ? { consumer: values.consumer } : {}), after: values.after!, limit: values.limit! };
}

/**
 * GET /api/dead-letters, GET /api/dead-letters/:seq, POST /api/dead-letters/:seq/replay:
 * the `admin` scope, each principal its own dead letters (visibleTo). They read NATS only
 * (once the key is known), so they answer while PostgreSQL is down.
 */
export function createDeadLetterRouter(deadLetters: DeadLetters): Router {
  const router = createRouter({ prefix: DEAD_LETTERS_PATH });
  router.use(async (ctx, next) => {
    ctx.set("cache-control", "no-store");
    await next();
  });
  router.use(requireScope("admin"));
  router.get("/", async (ctx) => {
    const query = parseDeadLetterQuery(ctx.query);
    const page = await deadLetters.list(query, principalOf(ctx));
    ctx.body = {
      deadLetters: page.deadLetters.map(toApiDeadLetterSummary),
      count: page.deadLetters.length,
      total: page.total,
      byConsumer: page.byConsumer,
      limit: query.limit,
      next: page.next,
    };
  });
  router.get("/:seq", async (ctx) => {
    ctx.body = toApiDeadLetter(await deadLetters.get(parseDeadLetterSeq(ctx.params.seq!), principalOf(ctx)));
  });
  router.post("/:seq/replay", async (ctx) => {
    const seq = parseDeadLetterSeq(ctx.params.seq!);
    const { deadLetter, streamSeq, duplicate } = await deadLetters.replay(seq, principalOf(ctx));
    ctx.status = 202;
    ctx.body = {
      seq,
      consumer: deadLetter.consumer,
      subject: deadLetter.subject,
      streamSeq,
      duplicate,
      message: `Replayed to ${deadLetter.consumer} on ${deadLetter.subject}; removed from the dead letters`,
    };
  });
  return router;
}
