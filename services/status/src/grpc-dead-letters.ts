import { JOBS_PAGE_SIZE } from "@veriflow/events";
import { invalidArgument, type DeadLetterServiceHandlers, type ProtoDeadLetter, type Rpc } from "@veriflow/grpc";
import type { DeadLetter } from "@veriflow/nats";
import { parseDeadLetterQuery, type DeadLetters } from "./dead-letters.js";

/** A uint64 from the wire (a decimal string): a dead letter's sequence. */
function seqOf(raw: string): number {
  const seq = Number(raw);
  if (!Number.isSafeInteger(seq) || seq < 1) throw invalidArgument("E_INVALID_DEAD_LETTER_SEQ", `seq must be a positive integer, got "${raw}"`);
  return seq;
}

function toProtoDeadLetter(d: DeadLetter, full: boolean): ProtoDeadLetter {
  const ms = d.deadLetteredAt.getTime();
  return {
    seq: String(d.seq),
    consumer: d.consumer,
    subject: d.subject,
    ...(d.streamSeq === null ? {} : { streamSeq: String(d.streamSeq) }),
    reason: d.reason,
    deadLetteredAt: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
    size: d.size,
    headers: full ? d.headers : {},
    data: full ? Buffer.from(d.data) : Buffer.alloc(0),
  };
}

/** veriflow.v1.DeadLetterService over the same lookups as the REST routes. */
export function createDeadLetterServiceHandlers(rpc: Rpc, deadLetters: DeadLetters): DeadLetterServiceHandlers {
  return {
    ListDeadLetters: rpc.unary("admin", async (req, ctx) => {
      if (req.pageSize < 0) throw invalidArgument("E_INVALID_PAGE_SIZE", "page_size must not be negative");
      const query = parseDeadLetterQuery({
        ...(req.consumer ? { consumer: req.consumer } : {}),
        after: req.after,
        limit: String(Math.min(req.pageSize || JOBS_PAGE_SIZE.default, JOBS_PAGE_SIZE.max)),
      });
      const page = await deadLetters.list(query, ctx.principal);
      return { deadLetters: page.deadLetters.map((d) => toProtoDeadLetter(d, false)), nextAfter: String(page.next ?? 0), total: String(page.total) };
    }),
    GetDeadLetter: rpc.unary("admin", async (req, ctx) => toProtoDeadLetter(await deadLetters.get(seqOf(req.seq), ctx.principal), true)),
    ReplayDeadLetter: rpc.unary("admin", async (req, ctx) => {
      const { deadLetter, streamSeq } = await deadLetters.replay(seqOf(req.seq), ctx.principal);
      return { deadLetter: toProtoDeadLetter(deadLetter, false), streamSeq: String(streamSeq) };
    }),
  };
}
