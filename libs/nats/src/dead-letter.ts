import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { deadLetterSubject } from "@veriflow/events";
import type { Logger } from "@veriflow/platform";
import { errorMessage } from "@veriflow/errors";

/**
 * Keeps a message the loop can't use (undecodable, unknown type, or an event that kept
 * failing on its own) in the dead-letter stream: its original bytes, subject and sequence,
 * the delivery attempt, and why it was set aside. True once the copy is stored: only then
 * may the caller terminate the original (else it naks it, and nothing is lost).
 */
export async function deadLetter(js: JetStreamClient, consumer: string, msg: JsMsg, reason: unknown, log: Logger): Promise<boolean> {
  const h = natsHeaders();
  h.set("veriflow-dlq-reason", errorMessage(reason).slice(0, 1000).replace(/[\r\n]+/g, " "));
  h.set("veriflow-dlq-subject", msg.subject);
  h.set("veriflow-dlq-stream-seq", String(msg.seq));
  h.set("veriflow-dlq-consumer", consumer);
  h.set("veriflow-dlq-attempts", String(msg.info.deliveryCount));
  try {
    await js.publish(deadLetterSubject(consumer), msg.data, { headers: h, msgID: `${consumer}:${msg.seq}` });
    log.warn({ subject: msg.subject, seq: msg.seq, reason: errorMessage(reason) }, "dead-lettered");
    return true;
  } catch (err) {
    log.error({ err, subject: msg.subject, seq: msg.seq }, "dead-letter publish failed");
    return false;
  }
}
