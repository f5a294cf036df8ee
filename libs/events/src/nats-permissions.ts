import { jobPriorities, type EventType } from "./catalog.js";
import { pipeline, serviceNames, stageSpec, type ObserverSpec, type ServiceName, type StageName, type StageSpec } from "./pipeline.js";
import {
  DEAD_LETTER_STREAM,
  IDEMPOTENCY_BUCKET,
  KNOWN_VERDICTS_BUCKET,
  RATE_LIMITS_BUCKET,
  JOB_CHANGED_SUBJECT,
  POSITIONS_STREAM,
  REGISTRY_ROOT,
  REGISTRY_STREAM,
  STREAM_NAME,
  STREAM_SUBJECTS,
  UPLOADS_BUCKET,
  UPLOAD_STARTED_SUBJECT,
  deadLetterSubject,
  isPrioritised,
  positionSubject,
  stageDurables,
  subjectsOf,
} from "./topology.js";

/**
 * Who may publish and subscribe to what on NATS: one user per service, each allowed the
 * subjects it owns and nothing else, derived from the pipeline descriptor and the topology
 * (deploy/nats/nats-server.conf is generated from this). A stage publishes the events it
 * produces and the give-up event, never another stage's: only chain-check may publish
 * verification.completed (a compromised manifest service cannot state a verdict; a job answered
 * from a known verdict is completed by chain-check, which reads the record and the chain itself).
 * Topology set-up stays with the services for now: each may create and update
 * the streams and buckets it uses and its own durable consumer at start (none may delete
 * a stream, or touch another service's consumer); the admin user may do anything.
 */
export interface NatsUser {
  /** The service's name, or `admin`. */
  user: string;
  /** The variable holding its password: nats-server reads it (`$VAR` in its config), the service gets it as NATS_PASSWORD. */
  passwordVariable: string;
  description: string;
  /** What it may publish to (anything else is refused); null: anything in the account. */
  publish: readonly string[] | null;
  /** Refused even where `publish` allows it. */
  publishDeny?: readonly string[];
  /** What it may subscribe to; null: anything in the account. */
  subscribe: readonly string[] | null;
}

/** The one NATS account veriflow's streams, buckets and users live in. */
export const NATS_ACCOUNT = "VERIFLOW";
/** Operators and set-up: every subject of the account. */
export const NATS_ADMIN_USER = "admin";
/** Readers outside the pipeline (docs/subscribing.md): their own durable consumers on the events stream. */
export const NATS_SUBSCRIBER_USER = "subscriber";

export const natsPasswordVariable = (user: string) => `NATS_${user.toUpperCase().replace(/-/g, "_")}_PASSWORD`;

const API = "$JS.API";
const UPLOADS_STREAM = `OBJ_${UPLOADS_BUCKET}`;

/** Create a stream or bring its config up to date (topology.ts ensureStream, Objm/Kvm create). */
const ensureStream = (stream: string) => ["INFO", "CREATE", "UPDATE"].map((op) => `${API}.STREAM.${op}.${stream}`);
const readMessages = (stream: string) => `${API}.STREAM.MSG.GET.${stream}`;

/** Every connection asks for the account's JetStream info and reads the answers to its requests in its inbox. */
const connection = { publish: [`${API}.INFO`], subscribe: ["_INBOX.>"] };

/** The events, dead-letter and positions streams: every service ensures them at start (ensureStreams). */
const eventStreams = [STREAM_NAME, DEAD_LETTER_STREAM, POSITIONS_STREAM].flatMap(ensureStream);

/**
 * Reading through its own durable pull consumer (consume loops, pull-session.ts): ensure it
 * (nats-server 2.9 names the consumer and its filter in the create subject), pull, ack, set
 * a message aside in its dead letters, checkpoint its position and read it back, and look up
 * what a redelivered input already caused (prior-outcome.ts reads the events stream by subject).
 */
function durableConsumer(durable: string): string[] {
  return [
    `${API}.CONSUMER.INFO.${STREAM_NAME}.${durable}`,
    `${API}.CONSUMER.CREATE.${STREAM_NAME}.${durable}`,
    `${API}.CONSUMER.CREATE.${STREAM_NAME}.${durable}.>`,
    `${API}.CONSUMER.MSG.NEXT.${STREAM_NAME}.${durable}`,
    `$JS.ACK.${STREAM_NAME}.${durable}.>`,
    deadLetterSubject(durable),
    positionSubject(durable),
    readMessages(POSITIONS_STREAM),
    readMessages(STREAM_NAME),
  ];
}

/** Opening the uploads bucket (Objm.create, then its limits) and reading an object's entry. */
const openUploads = [...ensureStream(UPLOADS_STREAM), readMessages(UPLOADS_STREAM)];

/**
 * Deleting an upload (uploads.ts deleteUpload): message by message, never a purge (whose bytes
 * nats-server 2.9.10 keeps counted), its chunks' sequences listed by a headers-only ordered
 * push consumer (created, asked for, deleted; its flow control answered) or read by subject.
 */
const deleteUploads = [
  readMessages(UPLOADS_STREAM),
  `${API}.STREAM.MSG.DELETE.${UPLOADS_STREAM}`,
  `${API}.CONSUMER.CREATE.${UPLOADS_STREAM}.>`,
  `${API}.CONSUMER.INFO.${UPLOADS_STREAM}.>`,
  `${API}.CONSUMER.DELETE.${UPLOADS_STREAM}.>`,
  `$JS.FC.${UPLOADS_STREAM}.>`,
];

/**
 * The gateway streams uploads in (chunks and entries), announces the large ones to the stage
 * that reads uploads (it hashes them as they are stored), and deletes those of refused submissions.
 */
const writeUploads = [...openUploads, `$O.${UPLOADS_BUCKET}.>`, UPLOAD_STARTED_SUBJECT, ...deleteUploads];

/**
 * A stage that reads uploads (uploads.ts): one chunk by direct get (by subject, or by sequence:
 * a request without a subject in its own), more through an ordered push consumer, then the
 * upload is deleted; large ones are read as they are stored by direct gets from a sequence
 * (upload-follower.ts), and the bucket is swept by walking its entries the same way (upload-sweep.ts).
 */
const readUploads = [...openUploads, `${API}.DIRECT.GET.${UPLOADS_STREAM}`, `${API}.DIRECT.GET.${UPLOADS_STREAM}.>`, ...deleteUploads];

/** A KV bucket its user keeps records in: opened (its stream ensured), entries written, read by direct get, updated. */
function kvRecords(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [...ensureStream(stream), `$KV.${bucket}.>`, `${API}.DIRECT.GET.${stream}`, `${API}.DIRECT.GET.${stream}.>`, readMessages(stream)];
}

/** The gateway's Idempotency-Key records (created, read, updated, released) and its rate-limit counters (compare-and-set). */
const idempotencyRecords = kvRecords(IDEMPOTENCY_BUCKET);
const rateLimitCounters = kvRecords(RATE_LIMITS_BUCKET);

const KNOWN_VERDICTS_STREAM = `KV_${KNOWN_VERDICTS_BUCKET}`;
/** A stage that reads known verdicts (manifest, chain-check): opens the bucket (ensured at start, as every service ensures what it uses) and reads records by direct get. */
const readKnownVerdicts = [...ensureStream(KNOWN_VERDICTS_STREAM), `${API}.DIRECT.GET.${KNOWN_VERDICTS_STREAM}`, `${API}.DIRECT.GET.${KNOWN_VERDICTS_STREAM}.>`, readMessages(KNOWN_VERDICTS_STREAM)];
/**
 * registry-watch keeps them: writes a completed run's verdict; when an entry changes, lists its
 * records (an ordered consumer over their keys: created, read, deleted) and deletes those decided before the change.
 */
const keepKnownVerdicts = [
  ...kvRecords(KNOWN_VERDICTS_BUCKET),
  `${API}.CONSUMER.CREATE.${KNOWN_VERDICTS_STREAM}`,
  `${API}.CONSUMER.CREATE.${KNOWN_VERDICTS_STREAM}.>`,
  `${API}.CONSUMER.INFO.${KNOWN_VERDICTS_STREAM}.>`,
  `${API}.CONSUMER.DELETE.${KNOWN_VERDICTS_STREAM}.>`,
];

const allDurables = [...pipeline.stages.flatMap((s) => stageDurables(s.service)), ...pipeline.observers.map((o) => o.durable)];

/** Every subject of an event type: a type a stage consumes has one per priority class (topology.ts). */
const subjectsOfEveryClass = (type: EventType) => (isPrioritised(type) ? jobPriorities.map((p) => subjectsOf(type, p)) : [subjectsOf(type)]);
/** Every pipeline consumer's state (readPipelineConsumers): the gateway's admission control, status' queue metrics. */
const readEveryConsumer = allDurables.map((d) => `${API}.CONSUMER.INFO.${STREAM_NAME}.${d}`);

function gateway(): Omit<NatsUser, "user" | "passwordVariable"> {
  return {
    description: `${pipeline.edge.service}: accepts submissions, stores their uploads; publishes ${pipeline.edge.produces}, ${pipeline.batch.submitted}`,
    publish: [
      ...connection.publish,
      ...eventStreams,
      ...subjectsOfEveryClass(pipeline.edge.produces),
      // A batch's record, after its jobs' requests (batch-submission.ts).
      subjectsOf(pipeline.batch.submitted),
      ...writeUploads,
      ...idempotencyRecords,
      ...rateLimitCounters,
      // Admission control reads every pipeline consumer's backlog; a synchronous wait reads a job's outcome.
      ...readEveryConsumer,
      readMessages(STREAM_NAME),
    ],
    // A synchronous request waits for its job's terminal event over core NATS (await-terminal.ts).
    subscribe: [...connection.subscribe, ...pipeline.terminal.map((t) => subjectsOf(t))],
  };
}

function stage(spec: StageSpec): Omit<NatsUser, "user" | "passwordVariable"> {
  const produces = [...new Set([...spec.produces, pipeline.giveUp])];
  return {
    description: `${spec.service}: ${spec.description}; publishes ${produces.join(", ")}`,
    publish: [
      ...connection.publish,
      ...eventStreams,
      ...stageDurables(spec.service as StageName).flatMap(durableConsumer),
      ...produces.flatMap(subjectsOfEveryClass),
      ...(spec.readsUploads ? readUploads : []),
      ...(spec.readsKnownVerdicts ? readKnownVerdicts : []),
    ],
    // The stage that reads uploads hears of large ones as they start (upload-follower.ts).
    subscribe: [...connection.subscribe, ...(spec.readsUploads ? [UPLOAD_STARTED_SUBJECT] : [])],
  };
}

/**
 * What an observer does besides reading every event. Status retries failed jobs (it
 * re-publishes the event the failed stage was handling, of any stage) and replays dead
 * letters on their original subject, which may be any subject of the events stream (a type a
 * newer consumer knows): so it may publish to the whole events stream. Its replicas tell each
 * other which jobs changed; it reads and removes dead letters, checks a retried job's upload,
 * and exports the queue's metrics (every pipeline consumer's info, the dead letters' count).
 */
const observerExtras: Partial<Record<ServiceName, { does: string; publish: string[]; subscribe: string[] }>> = {
  status: {
    does: "retries failed jobs and replays dead letters, so publishes to any subject of the events stream; reads every pipeline consumer's info (the pipeline view)",
    publish: [
      STREAM_SUBJECTS[0]!,
      `${JOB_CHANGED_SUBJECT}.*`,
      `${API}.STREAM.INFO.${DEAD_LETTER_STREAM}`,
      readMessages(DEAD_LETTER_STREAM),
      // The queue metrics (queue-metrics.ts): every pipeline consumer's state, read on scrape.
      ...readEveryConsumer,
      `${API}.STREAM.MSG.DELETE.${DEAD_LETTER_STREAM}`,
      readMessages(UPLOADS_STREAM),
      // The dashboard's pipeline view reads every pipeline consumer's backlog (GET /api/pipeline).
      ...allDurables.map((d) => `${API}.CONSUMER.INFO.${STREAM_NAME}.${d}`),
    ],
    subscribe: [`${JOB_CHANGED_SUBJECT}.*`],
  },
  "registry-watch": {
    does: "publishes registry.changed on its own stream, re-verifications (a job's content.hashed of a new run) and verification.changed; keeps the known verdicts",
    publish: [...ensureStream(REGISTRY_STREAM), `${REGISTRY_ROOT}.changed.>`, ...keepKnownVerdicts],
    subscribe: [],
  },
};

function observer(spec: (typeof pipeline.observers)[number]): Omit<NatsUser, "user" | "passwordVariable"> {
  const extras = observerExtras[spec.service] ?? { does: "publishes no event", publish: [], subscribe: [] };
  return {
    description: `${spec.service}: ${spec.description}; ${extras.does}`,
    publish: [...connection.publish, ...eventStreams, ...durableConsumer(spec.durable), ...((spec as ObserverSpec).produces ?? []).flatMap(subjectsOfEveryClass), ...extras.publish],
    subscribe: [...connection.subscribe, ...extras.subscribe],
  };
}

function permissionsOf(service: ServiceName): Omit<NatsUser, "user" | "passwordVariable"> {
  if (service === pipeline.edge.service) return gateway();
  const o = pipeline.observers.find((x) => x.service === service);
  return o ? observer(o) : stage(stageSpec(service as Parameters<typeof stageSpec>[0]));
}

/**
 * A subscriber creates and reads its own durable consumers on the events stream and publishes
 * nothing else: not an event, and nothing of a pipeline consumer (creating one with a pipeline
 * durable's name would redirect its work).
 */
function subscriber(): Omit<NatsUser, "user" | "passwordVariable"> {
  return {
    description: `${NATS_SUBSCRIBER_USER}: readers outside the pipeline (docs/subscribing.md), through durable consumers of their own; publishes no event`,
    publish: [
      ...connection.publish,
      `${API}.STREAM.INFO.${STREAM_NAME}`,
      `${API}.CONSUMER.INFO.${STREAM_NAME}.*`,
      `${API}.CONSUMER.CREATE.${STREAM_NAME}.>`,
      `${API}.CONSUMER.MSG.NEXT.${STREAM_NAME}.*`,
      `$JS.ACK.${STREAM_NAME}.>`,
    ],
    publishDeny: allDurables.flatMap((d) => [
      `${API}.CONSUMER.CREATE.${STREAM_NAME}.${d}`,
      `${API}.CONSUMER.CREATE.${STREAM_NAME}.${d}.>`,
      `${API}.CONSUMER.MSG.NEXT.${STREAM_NAME}.${d}`,
      `$JS.ACK.${STREAM_NAME}.${d}.>`,
    ]),
    subscribe: connection.subscribe,
  };
}

/** Without duplicates, in the order first given: the generated file reads in a stable order. */
const unique = (subjects: readonly string[] | null) => (subjects === null ? null : [...new Set(subjects)]);

/** Every user of the veriflow account: one per service of the descriptor, in start order, then admin. */
export function natsUsers(): NatsUser[] {
  const services = serviceNames.map((service): NatsUser => {
    const p = permissionsOf(service);
    return { user: service, passwordVariable: natsPasswordVariable(service), ...p, publish: unique(p.publish), subscribe: unique(p.subscribe) };
  });
  return [
    ...services,
    { user: NATS_SUBSCRIBER_USER, passwordVariable: natsPasswordVariable(NATS_SUBSCRIBER_USER), ...subscriber() },
    {
      user: NATS_ADMIN_USER,
      passwordVariable: natsPasswordVariable(NATS_ADMIN_USER),
      description: `${NATS_ADMIN_USER}: operators and topology set-up (the nats CLI, \`veriflow setup\`): everything in the account`,
      publish: null,
      subscribe: null,
    },
  ];
}
