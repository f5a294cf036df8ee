/** gRPC clients of the system, as any grpc-js client would call it (proto files, typed by the generated types). */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import {
  grpc,
  loadDeadLetterServiceProto,
  loadJobServiceProto,
  loadSubmissionServiceProto,
  type DeadLetterServiceClient,
  type JobServiceClient,
  type SubmissionServiceClient,
  type SubmitBatchRequest,
  type SubmitBatchResponse__Output,
  type SubmitVerificationRequest,
  type SubmitVerificationResponse__Output,
} from "@veriflow/grpc";

const insecure = () => grpc.credentials.createInsecure();

export function jobServiceClient(address: string): JobServiceClient {
  const { proto } = loadJobServiceProto();
  return new proto.veriflow.v1.JobService(address, insecure());
}

export function deadLetterServiceClient(address: string): DeadLetterServiceClient {
  const { proto } = loadDeadLetterServiceProto();
  return new proto.veriflow.v1.DeadLetterService(address, insecure());
}

export function submissionServiceClient(address: string): SubmissionServiceClient {
  const { proto } = loadSubmissionServiceProto();
  return new proto.veriflow.v1.SubmissionService(address, insecure());
}

/** A unary call as a promise; rejects with the grpc-js ServiceError. */
export function call<Res>(fn: (cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as Res))));
}

/** Sends the messages of a client-streaming SubmitVerification call and waits for the answer. */
export function submitVerification(
  client: SubmissionServiceClient,
  messages: SubmitVerificationRequest[],
  metadata = new grpc.Metadata(),
): Promise<SubmitVerificationResponse__Output> {
  return new Promise((resolve, reject) => {
    const stream = client.submitVerification(metadata, (err, res) => (err ? reject(err) : resolve(res!)));
    for (const m of messages) stream.write(m);
    stream.end();
  });
}

/** Sends the messages of a client-streaming SubmitBatch call and waits for the answer. */
export function submitBatch(client: SubmissionServiceClient, messages: SubmitBatchRequest[], metadata = new grpc.Metadata()): Promise<SubmitBatchResponse__Output> {
  return new Promise((resolve, reject) => {
    const stream = client.submitBatch(metadata, (err, res) => (err ? reject(err) : resolve(res!)));
    for (const m of messages) stream.write(m);
    stream.end();
  });
}

/** Reads a server stream to its end: the messages, and the status it ended with. */
export function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<{ messages: T[]; error: grpc.ServiceError | null }> {
  const messages: T[] = [];
  return new Promise((resolve) => {
    stream.on("data", (m: T) => messages.push(m));
    stream.on("error", (error: grpc.ServiceError) => resolve({ messages, error }));
    stream.on("end", () => resolve({ messages, error: null }));
  });
}

/** grpc.health.v1.Health/Check. */
export function checkHealth(address: string, service = ""): Promise<string> {
  const proto = grpc.loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as any;
  const client = new proto.grpc.health.v1.Health(address, insecure());
  return call<{ status: string }>((cb) => client.Check({ service }, cb))
    .then((r) => r.status)
    .finally(() => client.close());
}

const reflectionProto = join(dirname(createRequire(import.meta.url).resolve("@grpc/reflection")), "..", "proto", "grpc", "reflection", "v1", "reflection.proto");

/** The services a server lists over reflection (what `grpcurl <addr> list` prints). */
export function listServicesByReflection(address: string): Promise<string[]> {
  const proto = grpc.loadPackageDefinition(loadSync(reflectionProto)) as any;
  const client = new proto.grpc.reflection.v1.ServerReflection(address, insecure());
  return new Promise<string[]>((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on("data", (res: any) => {
      resolve(res.listServicesResponse.service.map((s: { name: string }) => s.name).sort());
      stream.end();
    });
    stream.on("error", reject);
    stream.write({ listServices: "" });
  }).finally(() => client.close());
}

/** Describes a symbol over reflection: the names of the files holding it. */
export function fileContainingSymbol(address: string, symbol: string): Promise<number> {
  const proto = grpc.loadPackageDefinition(loadSync(reflectionProto)) as any;
  const client = new proto.grpc.reflection.v1.ServerReflection(address, insecure());
  return new Promise<number>((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on("data", (res: any) => {
      if (res.errorResponse) reject(new Error(res.errorResponse.errorMessage));
      else resolve(res.fileDescriptorResponse.fileDescriptorProto.length);
      stream.end();
    });
    stream.on("error", reject);
    stream.write({ fileContainingSymbol: symbol });
  }).finally(() => client.close());
}
