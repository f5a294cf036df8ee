import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { EventDecodeError, deadLetterSubject } from "@veriflow/events";
import type { Logger } from "@veriflow/platform";
import { errorCode, errorMessage } from "@veriflow/errors";
import { deadLetters } from "./metrics.js";

/** The headers a dead letter adds: why, where from, which consumer. */
export const DEAD_LETTER_HEADERS = ["veriflow-dlq-reason", "veriflow-dlq-subject", "veriflow-dlq-stream-seq", "veriflow-dlq-consumer"];
/** On a replayed dead letter (dead-letters.ts): the one consumer it is for, and the dead letter it was. */
export const REPLAY_FOR_HEADER = "veriflow-replay-for";
export const REPLAY_OF_HEADER = "veriflow-replay-of";

/**
 * A replay is for the consumer that dead-lettered the message: every other consume loop
 * acknowledges it and goes on (it handled the original already).
 */
export function isReplayForAnother(msg: Pick<JsMsg, "headers">, consumer: string): boolean {
  const target = msg.headers?.get(REPLAY_FOR_HEADER);
  return target !== undefined && target !== "" && target !== consumer;
}

/**
 * Keeps a message the loop can't use (undecodable, unknown type, or an event that kept
 * failing on its own) in the dead-letter stream: its original bytes, headers, subject and sequence,
 * the delivery attempt, and why it was set aside. True once the copy is stored: only then
 * may the caller terminate the original (else it naks it, and nothing is lost).
 */
export async function deadLetter(js: JetStreamClient, consumer: string, msg: JsMsg, reason: unknown, log: Logger): Promise<boolean> {
  const h = natsHeaders();
  for (const [name, values] of msg.headers ?? []) {
    const lower = name.toLowerCase();
    if (lower.startsWith("nats-") || lower.startsWith("veriflow-dlq-") || lower === REPLAY_FOR_HEADER || lower === REPLAY_OF_HEADER) continue;
    for (const v of values) h.append(name, v);
  }
  h.set("veriflow-dlq-reason", errorMessage(reason).slice(0, 1000).replace(/[\r\n]+/g, " "));
  h.set("veriflow-dlq-subject", msg.subject);
  h.set("veriflow-dlq-stream-seq", String(msg.seq));
  h.set("veriflow-dlq-consumer", consumer);
  h.set("veriflow-dlq-attempts", String(msg.info.deliveryCount));
  try {
    await js.publish(deadLetterSubject(consumer), msg.data, { headers: h, msgID: `${consumer}:${msg.seq}` });
    log.warn({ subject: msg.subject, seq: msg.seq, reason: errorMessage(reason) }, "dead-lettered");
    deadLetters.inc({ consumer, reason: deadLetterReason(reason) });
    return true;
  } catch (err) {
    log.error({ err, subject: msg.subject, seq: msg.seq }, "dead-letter publish failed");
    return false;
  }
}

/**
 * A dead letter's reason as a metric label, from a bounded set: `undecodable` (bytes that are
 * not an event of their subject), the E_* code of a coded error, else `other` (an event that
 * kept failing on its own, a type the consumer does not take). The full text is in the header.
 */
export function deadLetterReason(reason: unknown): string {
  if (reason instanceof EventDecodeError) return "undecodable";
  const code = errorCode(reason);
  return code === "E_INTERNAL" ? "other" : code;
}
