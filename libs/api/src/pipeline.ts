import { z } from "./zod.js";

/** One durable consumer of the pipeline as GET /api/pipeline shows it (the whole system's). */
const PipelineConsumer = z
  .object({
    service: z.string(),
    durable: z.string(),
    kind: z.enum(["stage", "observer"]),
    priority: z.enum(["interactive", "bulk"]).nullable().openapi({ description: "The class of work a stage's consumer reads (each stage has one consumer per class); null for an observer." }),
    exists: z.boolean().openapi({ description: "False until its service has created it." }),
    waiting: z.number().int().nonnegative().openapi({ description: "Delivered to nobody yet." }),
    inFlight: z.number().int().nonnegative().openapi({ description: "Delivered, not yet acknowledged: being worked on." }),
    backlog: z.number().int().nonnegative().openapi({ description: "waiting + inFlight." }),
    redelivered: z.number().int().nonnegative(),
    acked: z.number().int().nonnegative().openapi({ description: "Messages acknowledged so far (its ack floor): two readings give its rate." }),
  })
  .openapi("PipelineConsumer");

/** GET /api/pipeline: where work waits (NATS, every tenant's), and the caller's tenant's throughput and stage latency (PostgreSQL). */
export const PipelineView = z
  .object({
    generatedAt: z.iso.datetime(),
    streamAvailable: z.boolean().openapi({ description: "False while NATS does not answer: `consumers` and `deadLetters` are then null." }),
    consumers: z.array(PipelineConsumer).nullable(),
    deadLetters: z.object({ total: z.number().int().nonnegative(), byConsumer: z.record(z.string(), z.number().int().nonnegative()) }).nullable(),
    throughput: z.object({
      since: z.iso.datetime(),
      minutes: z.array(z.object({ minute: z.iso.datetime(), completed: z.number().int().nonnegative(), failed: z.number().int().nonnegative() })).openapi({ description: "Minutes with no finished job are absent." }),
    }),
    latency: z.object({
      sampleJobs: z.number().int().positive().openapi({ description: "The tenant's most recently finished jobs measured." }),
      stages: z.array(z.object({ stage: z.string(), p50Ms: z.number().nonnegative(), p95Ms: z.number().nonnegative(), samples: z.number().int().nonnegative() })),
    }),
  })
  .openapi("PipelineView");
