import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "@veriflow/platform";

/**
 * Fire-and-forget notifications over core NATS (not JetStream): cheap, fan out to every
 * subscriber, lost when nobody listens or a connection blips. Use them to wake readers
 * of durable state (who then re-read it), never as the state itself.
 */
export interface Notifier {
  /** Publishes a notification (empty, or with a small payload); never throws (a lost one is the reader's safety net's job). */
  notify(subject: string, payload?: string): void;
  /** Calls `onNotify` with the subject and payload of each notification matching `subject` (wildcards allowed). */
  subscribe(subject: string, onNotify: (subject: string, payload: string) => void): { unsubscribe(): void };
}

export function createNotifier(nc: NatsConnection, log: Logger): Notifier {
  return {
    notify(subject, payload) {
      try {
        nc.publish(subject, payload);
      } catch (err) {
        log.debug({ err, subject }, "notification not sent");
      }
    },
    subscribe(subject, onNotify) {
      const sub: Subscription = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) log.warn({ err, subject }, "notification subscription error");
          else onNotify(msg.subject, msg.string());
        },
      });
      return { unsubscribe: () => sub.unsubscribe() };
    },
  };
}
