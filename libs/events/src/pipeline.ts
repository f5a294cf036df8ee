import type { EventType } from "./catalog.js";

/**
 * The pipeline, declared once. Everything that needs to know which services exist,
 * which event each stage consumes and produces, and which durable consumer it reads
 * through derives from this: the consumer specs, the `Stage` of a failed event, the
 * typing of each stage's handler, the in-process runner of the gateway's fallback,
 * the launcher behind `npm start`, the test system, and the compose file's check.
 *
 * Adding a stage: declare it here (in pipeline order), add `services/<service>/`
 * with a `stage.ts` (its StageModule) and the events it introduces to the catalog.
 */

/** A stage: consumes one event type, emits the next, through its own durable consumer. */
export interface StageSpec {
  /** The service that runs the stage (`services/<service>/`); also its `Stage` name. */
  readonly service: string;
  readonly consumes: EventType;
  readonly produces: readonly EventType[];
  readonly durable: string;
  readonly description: string;
  /** The conventional port of its /healthz, /readyz and /metrics endpoints. */
  readonly opsPort: number;
  /**
   * Reads the uploads the gateway stored (and removes them once done): only such a stage's
   * service opens the uploads bucket, and only its NATS user may read and purge it.
   */
  readonly readsUploads: boolean;
  /**
   * Reads verdicts already recorded (the known-verdicts bucket): manifest to skip a fetch,
   * chain-check to confirm before it answers from one. Only such a stage's service opens the
   * bucket, and its NATS user may read it (registry-watch writes it).
   */
  readsKnownVerdicts?: boolean;
}

/** A service that reads every event (a projection, a notifier): not a step of a job. */
export interface ObserverSpec {
  readonly service: string;
  readonly durable: string;
  /**
   * Job events it publishes besides reading them all (its NATS user may, nobody else's for it):
   * registry-watch starts re-verifications (a new run's content.hashed) and reports changed verdicts.
   */
  readonly produces?: readonly EventType[];
  readonly description: string;
  readonly opsPort: number;
}

export const pipeline = {
  /** Accepts submissions and publishes the request that starts a job. */
  edge: { service: "gateway", produces: "verification.requested", opsPort: 9101 },
  /**
   * In order: each consumes what the one before produces; the last produces the verdict (only it
   * does), and may send a job back to the one before it (see chain-check's produces).
   */
  stages: [
    {
      service: "hashing",
      consumes: "verification.requested",
      produces: ["content.hashed"],
      durable: "hashing",
      description: "hashes uploads",
      opsPort: 9102,
      readsUploads: true,
    },
    {
      service: "manifest",
      consumes: "content.hashed",
      // Never a verdict: a job whose question has a recorded verdict still current gets a
      // manifest.checked pointing at it (no fetch), and chain-check confirms it.
      produces: ["manifest.checked"],
      durable: "manifest",
      description: "fetches and checks manifests, or points at a known verdict",
      opsPort: 9103,
      readsUploads: false,
      readsKnownVerdicts: true,
    },
    {
      service: "chain-check",
      consumes: "manifest.checked",
      // content.hashed: a known verdict the manifest stage pointed at no longer holds here, so the
      // job goes back to the manifest stage for a full run (same run, request.fresh). The only
      // step back in the pipeline, and it happens at most once per run: the fresh run never points.
      produces: ["verification.completed", "content.hashed"],
      durable: "chain-check",
      description: "reads the registry and reaches the verdict, also for a job answered from a known verdict",
      opsPort: 9104,
      readsUploads: false,
      readsKnownVerdicts: true,
    },
  ],
  /** Started first: the job routes and the projection answer before work arrives. */
  observers: [
    { service: "status", durable: "status-projection", produces: ["watch.stopped"], description: "projects every event into PostgreSQL", opsPort: 9105 },
    { service: "webhooks", durable: "webhooks", description: "turns events into webhook deliveries (job callbacks, subscriptions)", opsPort: 9106 },
    {
      service: "registry-watch",
      durable: "registry-watch",
      produces: ["content.hashed", "verification.changed"],
      description: "follows the registries jobs used and re-verifies completed jobs whose entry changed",
      opsPort: 9107,
    },
  ],
  /**
   * A batch's events: the edge publishes `submitted` after the batch's jobs' requests, and the
   * status projection publishes `completed` once its last job ended (batch-completions.ts).
   */
  batch: { submitted: "batch.submitted", completed: "batch.completed" },
  /** A job ends with exactly one of these. */
  terminal: ["verification.completed", "verification.failed"],
  /** What any stage emits when it gives up on a job (so every stage may publish it). */
  giveUp: "verification.failed",
} as const;

/**
 * Checks the descriptor against the event catalog. (Not a `satisfies` on the literal:
 * the catalog's `Stage` enum is derived from the descriptor, and TypeScript would see
 * a cycle.) A stage naming an event type the catalog lacks fails to compile here.
 */
type Descriptor = {
  edge: { service: string; produces: EventType; opsPort: number };
  stages: readonly StageSpec[];
  observers: readonly ObserverSpec[];
  batch: { submitted: EventType; completed: EventType };
  terminal: readonly EventType[];
  giveUp: EventType;
};
const descriptorIsValid: Descriptor = pipeline;
void descriptorIsValid;

type Stages = (typeof pipeline)["stages"];
type Observers = (typeof pipeline)["observers"];

/** A pipeline stage, by the service that runs it. */
export type StageName = Stages[number]["service"];
/** Where a failed job gave up: a stage, or the gateway itself (its fallback). */
export type FailureSite = typeof pipeline.edge.service | StageName;
/** A service that observes every event. */
export type ObserverName = Observers[number]["service"];
/** Every service of the system, in start order. */
export type ServiceName = Observers[number]["service"] | typeof pipeline.edge.service | StageName;

export type StageSpecOf<S extends StageName> = Extract<Stages[number], { service: S }>;
/** The event a stage consumes. */
export type ConsumedBy<S extends StageName> = StageSpecOf<S>["consumes"];
/** The events a stage's handler may return. */
export type ProducedBy<S extends StageName> = StageSpecOf<S>["produces"][number];

export const stageNames: StageName[] = pipeline.stages.map((s) => s.service);

/** The `stage` a verification.failed names: [gateway, …stages], for the catalog's enum. */
export const failureSites = [pipeline.edge.service, ...stageNames] as [FailureSite, ...FailureSite[]];

/** Observers first (they must be listening before work arrives), then the edge and the stages. */
export const serviceNames = [
  ...pipeline.observers.map((o) => o.service),
  pipeline.edge.service,
  ...stageNames,
] as ServiceName[];

export function stageSpec<S extends StageName>(stage: S): StageSpecOf<S> {
  return pipeline.stages.find((s) => s.service === stage) as StageSpecOf<S>;
}

/** The stage that consumes an event type, if any (terminal events have none). */
export function stageConsuming(type: EventType): StageSpec | undefined {
  return pipeline.stages.find((s) => s.consumes === type);
}

export function isTerminalType(type: EventType): boolean {
  return (pipeline.terminal as readonly EventType[]).includes(type);
}

/** The conventional ops port of a service (local stack, config defaults). */
export function opsPortOf(service: ServiceName): number {
  const all: readonly { service: string; opsPort: number }[] = [pipeline.edge, ...pipeline.stages, ...pipeline.observers];
  return all.find((s) => s.service === service)!.opsPort;
}
