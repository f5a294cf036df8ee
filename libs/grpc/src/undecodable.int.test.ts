import { openAuthenticator } from "./open-authenticator.fixture.js";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpError } from "@veriflow/errors";
import { createSilentLogger } from "@veriflow/platform";
import { createGrpcServer, type GrpcServerHandle } from "./grpc-server.js";
import { loadJobServiceProto, loadSubmissionServiceProto } from "./proto.js";

// A gRPC server on 127.0.0.1 whose handlers record what reaches them, called with raw bytes
// (a client whose serializer sends them as they are): bytes that are not a message of the
// method's type are the client's error, never the server's INTERNAL.
const NOT_A_MESSAGE = [Buffer.from([0x0a, 0xff]), Buffer.from([0x0f]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])];
let handle: GrpcServerHandle;
let client: grpc.Client;
const reached: unknown[] = [];

beforeAll(async () => {
  const jobs = loadJobServiceProto();
  const server = createGrpcServer({ log: createSilentLogger(), authenticator: openAuthenticator, packageDefinition: jobs.packageDefinition, serviceNames: [] });
  server.addService(jobs.proto.veriflow.v1.JobService.service, {
    GetJob: server.rpc.unary("read", async (req) => {
      reached.push(req);
      throw new HttpError("E_JOB_NOT_FOUND", "no such job");
    }),
    WatchJob: server.rpc.serverStream("read", async (req) => {
      reached.push(req);
    }),
  });
  server.addService(loadSubmissionServiceProto().proto.veriflow.v1.SubmissionService.service, {
    SubmitVerification: server.rpc.clientStream("submit", async (messages) => {
      for await (const m of messages) reached.push(m);
      return { jobId: "", status: "JOB_STATUS_QUEUED", pollUrl: "", mode: "async" };
    }),
  });
  handle = await server.listen(0, "127.0.0.1");
  client = new grpc.Client(`127.0.0.1:${handle.port}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await handle?.close(100);
});

const raw = (b: Buffer) => b;
const outcome = (err: grpc.ServiceError | null) => (err ? { code: err.code, errorCode: err.metadata.get("x-error-code")[0] } : { code: grpc.status.OK });

describe("request messages that do not decode", () => {
  it("are INVALID_ARGUMENT E_INVALID_MESSAGE on a unary call, and reach no handler (grpc-js answered INTERNAL)", async () => {
    reached.length = 0;
    for (const bytes of NOT_A_MESSAGE) {
      const answer = await new Promise((resolve) => client.makeUnaryRequest("/veriflow.v1.JobService/GetJob", raw, raw, bytes, (err) => resolve(outcome(err))));
      expect(answer, bytes.toString("hex")).toEqual({ code: grpc.status.INVALID_ARGUMENT, errorCode: "E_INVALID_MESSAGE" });
    }
    expect(reached).toEqual([]);
    // A message that decodes still reaches it.
    const valid = await new Promise((resolve) => client.makeUnaryRequest("/veriflow.v1.JobService/GetJob", raw, raw, Buffer.from([0x0a, 0x01, 0x78]), (err) => resolve(outcome(err))));
    expect(valid).toEqual({ code: grpc.status.NOT_FOUND, errorCode: "E_JOB_NOT_FOUND" });
    expect(reached).toEqual([{ jobId: "x" }]);
  });

  it("are INVALID_ARGUMENT on a server-streaming call", async () => {
    const answer = await new Promise((resolve) => {
      const call = client.makeServerStreamRequest("/veriflow.v1.JobService/WatchJob", raw, raw, NOT_A_MESSAGE[0]!);
      call.on("data", () => {});
      call.on("error", (err: grpc.ServiceError) => resolve(outcome(err)));
      call.on("end", () => resolve(outcome(null)));
    });
    expect(answer).toEqual({ code: grpc.status.INVALID_ARGUMENT, errorCode: "E_INVALID_MESSAGE" });
  });

  it("end a client stream as INVALID_ARGUMENT where they come, after the messages before them were read", async () => {
    reached.length = 0;
    const answer = await new Promise((resolve) => {
      const call = client.makeClientStreamRequest("/veriflow.v1.SubmissionService/SubmitVerification", raw, raw, (err) => resolve(outcome(err)));
      call.write(Buffer.from([0x12, 0x01, 0x61])); // { chunk: "a" }
      call.write(NOT_A_MESSAGE[1]!);
      call.end();
    });
    expect(answer).toEqual({ code: grpc.status.INVALID_ARGUMENT, errorCode: "E_INVALID_MESSAGE" });
    expect(reached).toHaveLength(1);
  });
});
