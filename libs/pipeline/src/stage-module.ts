import type { ConsumedBy, EventData, Envelope, KnownVerdict, KnownVerdictQuestion, ProducedBy, StageName } from "@veriflow/events";
import type { EnvReader, Logger } from "@veriflow/platform";

export interface HandlerContext {
  /** 1 on first delivery; the consume loop gives up after `maxAttempts`. */
  attempt: number;
  log: Logger;
}

/**
 * A stage's handler: receives the one event type its stage consumes (pipeline.ts) and
 * returns the events it causes, of the types its stage produces. It publishes nothing
 * itself. A handler typed for another event than its stage's does not compile.
 */
export type StageHandler<S extends StageName> = (event: Envelope<ConsumedBy<S>>, ctx: HandlerContext) => Promise<Envelope<ProducedBy<S>>[]>;

/** One handler per stage, as the in-process runner needs them. */
export type StageHandlers = { [S in StageName]: StageHandler<S> };

/** An upload as the request event names it. */
export type UploadRef = NonNullable<EventData<"verification.requested">["upload"]>;

/**
 * Where a stage reads uploads from: the uploads bucket in a stage service, the bytes the
 * gateway already hashed while they streamed in when it runs the pipeline in-process.
 */
export interface UploadReader {
  /** SHA-256 ("0x" + hex) and size of the upload's bytes; throws Permanent/TransientError. */
  hash(upload: UploadRef): Promise<{ sha256Hex: string; size: number }>;
  /** Frees the upload once the stage's output, or the job's failure, is safely stored. Best effort. */
  release(upload: UploadRef): Promise<void>;
}

/** Where a stage finds verdicts already recorded (the known-verdicts bucket). */
export interface KnownVerdictReader {
  /** The recorded verdict of the question, null when there is none. Throws when the store does not answer. */
  find(question: KnownVerdictQuestion): Promise<KnownVerdict | null>;
}

/** What a stage is given to build its handler, wherever it runs. */
export interface StageRuntime {
  log: Logger;
  uploads: UploadReader;
  /**
   * Verdicts already recorded, for a stage that reads them (readsKnownVerdicts in the descriptor:
   * manifest to skip a fetch, chain-check to confirm before it answers) run over JetStream; absent
   * in the gateway's in-process fallback (JetStream, which keeps them, is what is down then):
   * every job is a full run there.
   */
  knownVerdicts?: KnownVerdictReader;
  now(): Date;
}

/** A stage built and ready to handle events. */
export interface StageInstance<S extends StageName> {
  handle: StageHandler<S>;
  /**
   * Runs once the input is acknowledged for sure, handled or given up on (e.g. deleting the
   * upload), outside the handler's concurrency slot (libs/nats consume-loop.ts). Best effort.
   */
  afterAck?: (event: Envelope<ConsumedBy<S>>) => Promise<void>;
  close(): Promise<void>;
}

/**
 * What `services/<stage>/src/stage.ts` exports: everything needed to run the stage, in
 * its own service over JetStream or in-process in the gateway's fallback, so both run
 * the same handler with the same settings and guards.
 */
export interface StageModule<S extends StageName = StageName, Settings = unknown> {
  stage: S;
  /** Consumer concurrency when `<STAGE>_CONCURRENCY` is not set. */
  defaultConcurrency: number;
  /** The stage's own settings, from the same environment variables wherever it runs. */
  readSettings(r: EnvReader): Settings;
  create(settings: Settings, runtime: StageRuntime): StageInstance<S>;
}

/** Declares a stage module with its types checked against the pipeline descriptor. */
export function defineStage<S extends StageName, Settings>(module: StageModule<S, Settings>): StageModule<S, Settings> {
  return module;
}
