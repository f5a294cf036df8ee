import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";
import type { ProtoGrpcType as DeadLetterServiceProto } from "./generated/dead_letter_service.js";
import type { ProtoGrpcType as JobServiceProto } from "./generated/job_service.js";
import type { ProtoGrpcType as SubmissionServiceProto } from "./generated/submission_service.js";

/** The repository's proto/ directory (the same depth from src/ and dist/). */
export const PROTO_ROOT = fileURLToPath(new URL("../../../proto", import.meta.url));

/**
 * How messages become objects. scripts/generate.mjs passes the same options to
 * proto-loader-gen-types, so the generated types describe exactly these objects:
 * camelCase fields, 64-bit integers as strings, enums as their names, defaults filled
 * in, and a virtual field naming the set member of each oneof.
 */
export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

export interface LoadedProto<T> {
  /** Feeds reflection: it describes the files' messages and services. */
  packageDefinition: PackageDefinition;
  proto: T;
}

function load<T>(file: string | string[]): LoadedProto<T> {
  const packageDefinition = loadSync(file, LOADER_OPTIONS);
  return { packageDefinition, proto: grpc.loadPackageDefinition(packageDefinition) as unknown as T };
}

/** veriflow.v1.JobService (served by status) and the job messages. */
export const loadJobServiceProto = () => load<JobServiceProto>("veriflow/v1/job_service.proto");

/** veriflow.v1.SubmissionService (served by the gateway) and the job messages. */
export const loadSubmissionServiceProto = () => load<SubmissionServiceProto>("veriflow/v1/submission_service.proto");

/** veriflow.v1.DeadLetterService (served by status beside JobService). */
export const loadDeadLetterServiceProto = () => load<DeadLetterServiceProto>("veriflow/v1/dead_letter_service.proto");

/**
 * What the status service serves, JobService and DeadLetterService, loaded as one root:
 * proto-loader names a root's file descriptors by package (veriflow_v1.proto), so two roots
 * of one package merged would hide one from reflection.
 */
export const loadStatusProtos = () =>
  load<JobServiceProto & DeadLetterServiceProto>(["veriflow/v1/job_service.proto", "veriflow/v1/dead_letter_service.proto"]);

export const JOB_SERVICE = "veriflow.v1.JobService";
export const DEAD_LETTER_SERVICE = "veriflow.v1.DeadLetterService";
export const SUBMISSION_SERVICE = "veriflow.v1.SubmissionService";
