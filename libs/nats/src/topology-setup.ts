import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { jobPriorities, observerConsumer, pipeline, stageConsumer, STREAM_NAME, type ConsumerSpec } from "@veriflow/events";
import { isNotFound } from "./nats-errors.js";
import { checkStreams, TopologyMismatchError } from "./topology-check.js";
import {
  ensureConsumer,
  ensureRegistryStream,
  ensureStreams,
  knownVerdictsStreamConfig,
  openKnownVerdictsBucket,
  openUploadsBucket,
  registryStreamConfig,
  streamConfigs,
  uploadsStreamConfig,
  type TopologyConfig,
} from "./topology.js";

/** Every durable consumer the pipeline declares: each stage's (one per priority class), then each observer's. */
export function pipelineConsumerSpecs(): ConsumerSpec[] {
  return [...pipeline.stages.flatMap((s) => jobPriorities.map((p) => stageConsumer(s.service, p))), ...pipeline.observers.map((o) => observerConsumer(o.service))];
}

/**
 * What `veriflow setup` does on NATS: makes the shared topology as configured (the events,
 * dead-letter, positions and registry changes streams, the uploads and known verdicts buckets, every pipeline consumer), whatever
 * NATS_TOPOLOGY says, so services run with NATS_TOPOLOGY=check find it. Safe to run again:
 * it updates what differs and leaves consumers where they stand. Answers one line per step.
 */
export async function setupTopology(nats: { js: JetStreamClient; jsm: JetStreamManager }, cfg: TopologyConfig): Promise<string[]> {
  const making = { ...cfg, mode: "ensure" as const };
  await ensureStreams(nats.jsm, making);
  const done = streamConfigs(making).map((s) => `stream ${s.name}: as configured`);
  await openUploadsBucket(nats.js, making);
  done.push(`stream ${uploadsStreamConfig(making).name}: as configured`);
  // registry-watch's changes (with NATS_TOPOLOGY=check it only finds it).
  await ensureRegistryStream(nats.jsm, making);
  done.push(`stream ${registryStreamConfig(making).name}: as configured`);
  // The known verdicts (registry-watch writes them, the manifest stage and chain-check read them).
  await openKnownVerdictsBucket(nats.js, making);
  done.push(`stream ${knownVerdictsStreamConfig(making).name}: as configured`);
  for (const spec of pipelineConsumerSpecs()) {
    const { created } = await ensureConsumer(nats.jsm, spec, making);
    done.push(`consumer ${spec.durable}: ${created ? "created" : "as configured"}`);
  }
  return done;
}

/**
 * `veriflow setup --check`: what differs between the topology and the configuration (empty
 * when nothing does), changing nothing: the streams' settings, and each consumer's existence
 * and filter (its position is its own).
 */
export async function topologyDifferences(jsm: JetStreamManager, cfg: TopologyConfig): Promise<string[]> {
  const differences: string[] = [];
  try {
    await checkStreams(jsm, [...streamConfigs(cfg), uploadsStreamConfig(cfg), registryStreamConfig(cfg), knownVerdictsStreamConfig(cfg)]);
  } catch (err) {
    if (!(err instanceof TopologyMismatchError)) throw err;
    differences.push(...err.differences);
  }
  for (const spec of pipelineConsumerSpecs()) {
    try {
      const { config } = await jsm.consumers.info(STREAM_NAME, spec.durable);
      if (config.filter_subject !== spec.filterSubject) differences.push(`consumer ${spec.durable}: filter is ${config.filter_subject}, the pipeline's ${spec.filterSubject}`);
    } catch (err) {
      if (!isNotFound(err, "consumer") && !isNotFound(err, "stream")) throw err;
      differences.push(`consumer ${spec.durable} does not exist`);
    }
  }
  return differences;
}
