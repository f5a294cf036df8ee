import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { STREAM_NAME, UPLOADS_BUCKET, createRequestEvent, newJobId, pipeline, serviceNames, subjectFor, type ServiceName } from "@veriflow/events";
import { publishEvents, putUpload } from "@veriflow/nats";
import { killService } from "../../../deploy/local/src/service-processes.js";
import { waitReady, type Infra, type ScenarioStack } from "./infra.js";
import type { Submission } from "./load.js";
import { freezeScenario, starveScenario } from "./stall-scenarios.js";

export interface FaultContext {
  infra: Infra;
  stack: ScenarioStack;
  /** This scenario's callbackUrl (the receiver files callbacks by scenario). */
  callbackUrl: string;
  /** Resolves once `fraction` (0–1) of the load's schedule has passed. */
  at(fraction: number): Promise<void>;
  log(line: string): void;
}

/** What a fault did: processes killed (or stopped), and job ids of messages it planted itself (not jobs of the load). */
export interface Injected {
  kills: number;
  planted?: string[];
  /** Jobs the fault started itself, past the gateway, with a known outcome: counted like the load's. */
  jobs?: Submission[];
}

export interface Scenario {
  name: string;
  /** The fault, in a few words, for the report. */
  fault: string;
  /** The load lasts at least this long (the rate is lowered for small job counts), so the fault hits it. */
  minLoadS: number;
  /** JetStream's max_file_store for this scenario's nats-server, from the number of jobs (unlimited if absent). */
  maxFileStore?: (jobs: number) => number;
  /** The upload's file name of submission i (a poison scenario sets some). */
  fileName?: (index: number) => string;
  /** The fault must not make any consumer receive a message twice (a stall, not a death): counted after the drain. */
  noExtraAttempts?: boolean;
  /** Injects the fault while the load runs; resolves when the system has been given back (restarted). */
  inject(ctx: FaultContext): Promise<Injected>;
}

/** How long a killed process stays down before it is started again. */
const DOWN_MS = 1000;
/** When, as fractions of the load, processes are killed (each kill is followed by a restart). */
const KILL_AT = [0.25, 0.6];
const MIN_LOAD_S = 12;

export interface ScenarioOptions {
  /** The durable consumer the consumer scenario deletes. */
  durable: string;
  /** Bytes one job leaves in JetStream (events; its upload is deleted once hashed), to size the small store. */
  storeBytesPerJob: number;
}

/** Every scenario, in the order they run: a fault-free control first. */
export function allScenarios(opts: ScenarioOptions): Scenario[] {
  return [
    { name: "baseline", fault: "none (control: every count must be 0)", minLoadS: MIN_LOAD_S, inject: () => Promise.resolve({ kills: 0 }) },
    ...serviceNames.map(killServiceScenario),
    killNatsScenario,
    stopPostgresScenario,
    deleteConsumerScenario(opts.durable),
    poisonScenario,
    smallStoreScenario(opts.storeBytesPerJob),
    freezeScenario(MIN_LOAD_S),
    starveScenario(MIN_LOAD_S),
  ];
}

function killServiceScenario(name: ServiceName): Scenario {
  return {
    name: `kill-${name}`,
    fault: `kill -9 ${name} at ${KILL_AT.map((f) => `${f * 100}%`).join(" and ")} of the load, restarted ${DOWN_MS / 1000} s later`,
    minLoadS: MIN_LOAD_S,
    async inject({ stack, at, log }) {
      for (const fraction of KILL_AT) {
        await at(fraction);
        await killService(stack.local.services[name][0]!);
        log(`killed ${name} (-9)`);
        await sleep(DOWN_MS);
        await stack.local.restartService(name);
        await waitReady(stack, name);
        log(`${name} restarted and ready`);
      }
      return { kills: KILL_AT.length };
    },
  };
}

const killNatsScenario: Scenario = {
  name: "kill-nats-server",
  fault: `kill -9 nats-server at ${KILL_AT.map((f) => `${f * 100}%`).join(" and ")}, restarted on its store and port ${DOWN_MS / 1000} s later`,
  minLoadS: MIN_LOAD_S,
  async inject({ stack, at, log }) {
    for (const fraction of KILL_AT) {
      await at(fraction);
      await stack.nats.kill();
      log("killed nats-server (-9)");
      await sleep(DOWN_MS);
      await stack.nats.restart();
      log("nats-server restarted");
    }
    return { kills: KILL_AT.length };
  },
};

const PG_DOWN_MS = 10_000;
const stopPostgresScenario: Scenario = {
  name: "stop-postgres",
  fault: `PostgreSQL stopped (immediate) at 20% for ${PG_DOWN_MS / 1000} s, then started`,
  minLoadS: 16,
  async inject({ infra, at, log }) {
    await at(0.2);
    await infra.pg.stopImmediately();
    log("postgres stopped (immediate)");
    await sleep(PG_DOWN_MS);
    await infra.pg.start();
    log("postgres started");
    return { kills: 1 };
  },
};

function deleteConsumerScenario(durable: string): Scenario {
  return {
    name: `delete-consumer-${durable}`,
    fault: `durable consumer "${durable}" deleted at 35% of the load`,
    minLoadS: MIN_LOAD_S,
    async inject({ stack, at, log }) {
      await at(0.35);
      await stack.client.jsm.consumers.delete(STREAM_NAME, durable);
      log(`deleted consumer ${durable}`);
      return { kills: 0 };
    },
  };
}

/** One submission in 25 carries a NUL in its file name. */
const isPoisonedName = (i: number) => i % 25 === 12;

const poisonScenario: Scenario = {
  name: "poison",
  fault:
    "NUL in the file name of 1 in 25 submissions (and of 2 requests published past the gateway, which refuses such names); " +
    "undecodable and malformed messages on every stage's subject at 30%",
  minLoadS: MIN_LOAD_S,
  fileName: (i) => (isPoisonedName(i) ? `chaos-\u0000-${i}.bin` : `chaos-${i}.bin`),
  async inject(ctx) {
    const { stack, at, log } = ctx;
    await at(0.3);
    const garbage = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0x6e, 0x6f, 0x74, 0x20, 0x6a, 0x73, 0x6f, 0x6e]);
    const planted: string[] = [];
    for (const stage of pipeline.stages) {
      const undecodable = randomUUID();
      await stack.client.js.publish(subjectFor(stage.consumes, undecodable), garbage);
      // An envelope of the right type whose data fails the event's schema.
      const malformed = randomUUID();
      const envelope = { id: malformed, type: stage.consumes, occurredAt: new Date().toISOString(), correlationId: malformed, causationId: null, data: { jobId: malformed } };
      await stack.client.js.publish(subjectFor(stage.consumes, malformed), JSON.stringify(envelope));
      planted.push(undecodable, malformed);
    }
    log(`published ${planted.length} poison messages`);
    const jobs = [await publishNulNamedJob(ctx, 0, false), await publishNulNamedJob(ctx, 1, true)];
    log(`published ${jobs.length} valid requests with a NUL in upload.fileName`);
    return { kills: 0, planted, jobs };
  },
};

/**
 * A job as the gateway would have queued it (its upload in the bucket, its request on the
 * stream) but with a NUL in the file name, which every stage and observer must carry through:
 * the gateway's multipart parser refuses such names, so this is the only way one gets in.
 */
async function publishNulNamedJob({ infra, stack, callbackUrl }: FaultContext, n: number, callback: boolean): Promise<Submission> {
  const c = infra.cases[n % infra.cases.length]!;
  const jobId = newJobId();
  const fileName = `chaos-\u0000-planted-${n}.bin`;
  const stored = await putUpload(stack.client, jobId, Readable.from([c.bytes]), { fileName, contentType: "application/octet-stream" });
  const request = { jobType: "verify" as const, manifestUri: c.manifestUri, registryAddress: infra.registry, rpcUrl: null, callbackUrl: callback ? callbackUrl : null };
  const upload = { bucket: UPLOADS_BUCKET, name: jobId, size: stored.size, fileName, contentType: "application/octet-stream", nuid: stored.nuid, chunks: stored.chunks, digest: stored.digest, entrySeq: stored.revision, chunkSeq: stored.chunkSeq };
  await publishEvents(stack.client.js, [createRequestEvent(jobId, { jobId, request, upload })]);
  return { index: -1 - n, case: c, callback, fileName, outcome: { kind: "accepted", jobId } };
}

/** When, as fractions of the load, the small-store scenario freezes hashing and lets it go. */
const STALL = { from: 0.2, to: 0.6 } as const;

function smallStoreScenario(bytesPerJob: number): Scenario {
  // A store for about 40% of the load's events. JetStream reserves each stream's and bucket's
  // max_bytes in it, so a system that keeps up never fills it (old, processed events are
  // discarded): hashing is frozen for 40% of the load, so uploads and unprocessed events
  // pile up. The gateway must refuse (507, 503) what it cannot keep, and every job it
  // accepted must end once hashing runs again.
  const size = (jobs: number) => Math.max(256 * 1024, Math.round(jobs * 0.4 * bytesPerJob));
  return {
    name: "small-store",
    fault: `JetStream max_file_store for about 40% of the load's events; hashing frozen (SIGSTOP) from ${STALL.from * 100}% to ${STALL.to * 100}% of the load`,
    minLoadS: MIN_LOAD_S,
    maxFileStore: size,
    async inject({ stack, at, log }) {
      const hashing = stack.local.services.hashing[0]!.child;
      await at(STALL.from);
      hashing.kill("SIGSTOP");
      log("hashing frozen (SIGSTOP)");
      await at(STALL.to);
      hashing.kill("SIGCONT");
      log("hashing running again (SIGCONT)");
      return { kills: 1 };
    },
  };
}
