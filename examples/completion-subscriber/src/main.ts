/**
 * Prints one JSON line per finished veriflow job. Configured by environment:
 *
 *   NATS_URL             nats://127.0.0.1:4222
 *   NATS_USER            (none)                  and NATS_PASSWORD: veriflow's deployments have a `subscriber` user
 *   SUBSCRIBER_DURABLE   completion-subscriber   (failures use "<durable>-failed")
 *   SUBSCRIBE_FAILURES   true                    also consume verification.failed
 *   DELIVER_POLICY       new                     or "all": replay the retained history on first start
 *   EVENT_SCHEMAS_DIR    this repository's docs/events
 */
import type { CompletionData, FailureData } from "./contract.js";
import { COMPLETIONS, FAILURES, startSubscriber, type RunningSubscriber } from "./subscriber.js";

const env = process.env;
const natsUrl = env.NATS_URL ?? "nats://127.0.0.1:4222";
const durable = env.SUBSCRIBER_DURABLE ?? "completion-subscriber";
const deliverPolicy = env.DELIVER_POLICY === "all" ? "all" : "new";
const print = (line: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), msg: line, ...fields }));
const login = env.NATS_USER ? { user: env.NATS_USER, password: env.NATS_PASSWORD } : {};
const common = { natsUrl, deliverPolicy, log: print, ...login, ...(env.EVENT_SCHEMAS_DIR ? { schemasDir: env.EVENT_SCHEMAS_DIR } : {}) } as const;

const running: RunningSubscriber[] = [
  await startSubscriber({
    ...common,
    durable,
    filterSubject: COMPLETIONS,
    onEvent(event) {
      const { jobId, jobType, contentHash, result } = event.data as CompletionData;
      print("job completed", { eventId: event.id, jobId, jobType, contentHash, status: result.status, reasons: result.reasons });
    },
  }),
];
if (env.SUBSCRIBE_FAILURES !== "false") {
  running.push(
    await startSubscriber({
      ...common,
      durable: `${durable}-failed`,
      filterSubject: FAILURES,
      onEvent(event) {
        const { jobId, stage, code, message } = event.data as FailureData;
        print("job failed", { eventId: event.id, jobId, stage, code, message });
      },
    }),
  );
}

// A signal handler cannot await: stop in the background, exiting 1 if a subscriber fails to.
const stop = () =>
  void Promise.all(running.map((r) => r.stop())).then(
    () => process.exit(0),
    (err: unknown) => {
      print("stop failed", { err: String(err) });
      process.exit(1);
    },
  );
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
