import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { deadLetterSubject } from "@veriflow/events";
import type { Logger } from "@veriflow/platform";
import { errorMessage } from "@veriflow/errors";

/**
 * Keeps a message the loop can't use (undecodable, unknown type) in the dead-letter
 * stream: its original bytes, subject and sequence, and why it was set aside.
 */
export async function deadLetter(js: JetStreamClient, consumer: string, msg: JsMsg, reason: unknown, log: Logger): Promise<void> {
  const h = natsHeaders();
  h.set("veriflow-dlq-reason", errorMessage(reason).slice(0, 1000).replace(/[\r\n]+/g, " "));
  h.set("veriflow-dlq-subject", msg.subject);
  h.set("veriflow-dlq-stream-seq", String(msg.seq));
  h.set("veriflow-dlq-consumer", consumer);
  try {
    await js.publish(deadLetterSubject(consumer), msg.data, { headers: h, msgID: `${consumer}:${msg.seq}` });
    log.warn({ subject: msg.subject, seq: msg.seq, reason: errorMessage(reason) }, "dead-lettered");
  } catch (err) {
    // The original stays in the events stream; losing the copy loses no data.
    log.error({ err, subject: msg.subject, seq: msg.seq }, "dead-letter publish failed");
  }
}
