import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Counter } from "prom-client";
import { UPLOAD_STARTED_SUBJECT, isSubjectToken } from "@veriflow/events";
import { registerMetrics, type EnvReader, type Logger } from "@veriflow/platform";
import { followChunks, newReadHead, type ReadHead } from "./upload-chunks.js";
import { UPLOAD_READ_STALL_MS } from "./upload-stream.js";

/**
 * A head start for large uploads. The gateway announces an upload of more than one chunk as
 * soon as its second chunk comes (UPLOAD_STARTED_SUBJECT, core NATS, to one replica of the
 * stage that reads uploads); that replica reads and hashes the chunks as they are stored
 * (followChunks, by direct gets), instead of all of them after the request event. When the
 * request comes, hashUpload takes the head (the hash so far), reads whatever chunks are left,
 * and checks the whole against the stored digest and size as always; a head that does not
 * add up is dropped and the upload read again from its first chunk. So the head start changes
 * when the bytes are hashed, never what a job ends with: no job exists before its request
 * event (an aborted upload never becomes one), and a notice lost, a replica restarted or
 * another replica taking the request all end in the ordinary read. It pays where the reading
 * has CPU of its own (hashing on another host, or spare cores): on a box whose two cores the
 * gateway, nats-server and hashing already fill, it only moves the same work earlier.
 *
 * Bounded: at most `maxFollowing` uploads read at once (later notices are ignored), a reader
 * stops after `idleMs` without a chunk (an aborted or slow upload), and a head not taken
 * within `keepMs` (its request never came, or went to another replica) is dropped; a head is
 * a hash state and three numbers.
 */

export interface UploadFollowConfig {
  /** Most uploads one replica reads ahead at once; 0 turns the head start off. */
  maxFollowing: number;
}

/**
 * UPLOADS_FOLLOW_MAX (0: off, the default; 4 is a good start). Off by default because where
 * gateway, nats-server and hashing share two cores (the bench box) reading ahead only moves
 * the same CPU work earlier and cost a little more (direct gets); turn it on where hashing has
 * CPU of its own.
 */
export function readUploadFollowConfig(r: EnvReader): UploadFollowConfig {
  return { maxFollowing: r.int("UPLOADS_FOLLOW_MAX", 0, { min: 0, max: 64 }) };
}

export interface UploadFollower {
  /** Starts reading upload `nuid` as it is stored, unless it is followed already or the follower is full. */
  follow(nuid: string, name: string): void;
  /** Stops reading `nuid` and hands over what was read (each head is taken once); null when it was not followed. */
  take(nuid: string): Promise<ReadHead | null>;
  /** How many chunks of `nuid` were read so far; null when it is not followed. */
  progress(nuid: string): number | null;
  close(): Promise<void>;
}

export interface UploadFollowerOptions extends UploadFollowConfig {
  jsm: JetStreamManager;
  log: Logger;
  idleMs?: number;
  keepMs?: number;
  now?: () => number;
}

export const uploadFollows = new Counter({
  name: "veriflow_upload_follows_total",
  help: "Large uploads read ahead as they were stored, by outcome: taken (its request used the head), dropped (never taken), refused (the follower was full).",
  labelNames: ["outcome"] as const,
  registers: [],
});

interface Following {
  name: string;
  head: ReadHead;
  stop(): void;
  /** Settles when the read has ended (never rejects). */
  done: Promise<void>;
  reading: boolean;
  /** When a read that ended is dropped unless taken. */
  dropAt: number;
}

export function createUploadFollower(opts: UploadFollowerOptions): UploadFollower {
  registerMetrics(uploadFollows);
  const idleMs = opts.idleMs ?? UPLOAD_READ_STALL_MS;
  const keepMs = opts.keepMs ?? 10 * 60_000;
  const now = opts.now ?? Date.now;
  const all = new Map<string, Following>();
  let closed = false;

  const dropStale = () => {
    for (const [nuid, f] of all) {
      if (!f.reading && f.dropAt <= now()) {
        all.delete(nuid);
        uploadFollows.inc({ outcome: "dropped" });
      }
    }
  };

  return {
    follow(nuid, name) {
      if (closed || !isSubjectToken(nuid) || all.has(nuid)) return;
      dropStale();
      const reading = [...all.values()].filter((f) => f.reading).length;
      // Kept heads are bounded too: as many as could be read in keepMs is far more than the requests to come.
      if (reading >= opts.maxFollowing || all.size >= opts.maxFollowing * 16) {
        uploadFollows.inc({ outcome: "refused" });
        return;
      }
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      const f: Following = { name, head: newReadHead(), stop, done: Promise.resolve(), reading: true, dropAt: Infinity };
      f.done = followChunks(opts.jsm, nuid, f.head, { idleMs, stopped })
        .then(
          () => opts.log.debug({ upload: name, chunks: f.head.chunks }, "read ahead"),
          (err: unknown) => opts.log.debug({ upload: name, err, chunks: f.head.chunks }, "read ahead failed"),
        )
        .finally(() => {
          f.reading = false;
          f.dropAt = now() + keepMs;
        });
      all.set(nuid, f);
    },
    async take(nuid) {
      const f = all.get(nuid);
      if (f === undefined) return null;
      all.delete(nuid);
      f.stop();
      await f.done;
      uploadFollows.inc({ outcome: "taken" });
      return f.head.chunks > 0 ? f.head : null;
    },
    progress: (nuid) => all.get(nuid)?.head.chunks ?? null,
    async close() {
      closed = true;
      const reads = [...all.values()];
      all.clear();
      for (const f of reads) f.stop();
      await Promise.all(reads.map((f) => f.done));
    },
  };
}

/** What an upload's announcement carries. */
interface UploadStarted {
  name: string;
  nuid: string;
}

/** Announces an upload being stored (putUpload, at its second chunk): best effort, core NATS. */
export function announceUpload(nc: NatsConnection, started: UploadStarted): void {
  try {
    nc.publish(UPLOAD_STARTED_SUBJECT, JSON.stringify(started));
  } catch {
    /* a closed or draining connection: no head start, nothing else changes */
  }
}

/**
 * A follower fed by the gateway's announcements, one replica of `queue` each. Null when
 * the head start is off (maxFollowing 0).
 */
export function startUploadFollower(opts: UploadFollowerOptions & { nc: NatsConnection; queue: string }): UploadFollower | null {
  if (opts.maxFollowing === 0) return null;
  const follower = createUploadFollower(opts);
  const sub: Subscription = opts.nc.subscribe(UPLOAD_STARTED_SUBJECT, {
    queue: opts.queue,
    callback: (err, msg) => {
      if (err) return;
      let started: Partial<UploadStarted> = {};
      try {
        started = msg.json<Partial<UploadStarted>>();
      } catch {
        return; // not an announcement: ignored, as a lost one would be
      }
      if (typeof started.nuid === "string" && typeof started.name === "string") follower.follow(started.nuid, started.name);
    },
  });
  return {
    ...follower,
    async close() {
      sub.unsubscribe();
      await follower.close();
    },
  };
}
