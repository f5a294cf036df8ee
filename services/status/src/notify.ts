import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "@veriflow/platform";

/**
 * Fire-and-forget notifications over core NATS (not JetStream): cheap, fan out to every
 * subscriber, lost when nobody listens or a connection blips. Use them to wake readers
 * of durable state (who then re-read it), never as the state itself.
 */
export interface Notifier {
  /** Publishes an empty notification; never throws (a lost one is the reader's safety net's job). */
  notify(subject: string): void;
  /** Calls `onNotify` with the subject of each notification matching `subject` (wildcards allowed). */
  subscribe(subject: string, onNotify: (subject: string) => void): { unsubscribe(): void };
}

export function createNotifier(nc: NatsConnection, log: Logger): Notifier {
  return {
    notify(subject) {
      try {
        nc.publish(subject);
      } catch (err) {
        log.debug({ err, subject }, "notification not sent");
      }
    },
    subscribe(subject, onNotify) {
      const sub: Subscription = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) log.warn({ err, subject }, "notification subscription error");
          else onNotify(msg.subject);
        },
      });
      return { unsubscribe: () => sub.unsubscribe() };
    },
  };
}
