import { openAuthenticator } from "./open-authenticator.fixture.js";
import { loadSync } from "@grpc/proto-loader";
import * as grpc from "@grpc/grpc-js";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "@veriflow/platform";
import { createGrpcServer, type GrpcServerHandle } from "./grpc-server.js";
import { loadSubmissionServiceProto } from "./proto.js";
import type { GrpcServerLimits } from "./server-limits.js";

// A gRPC server on 127.0.0.1 with small limits, called by a plain grpc-js client.
const LIMITS: GrpcServerLimits = { maxConnectionIdleMs: 300, maxConnectionAgeMs: 60_000, maxReceiveMessageBytes: 64 * 1024, maxSendMessageBytes: 64 * 1024, uploadIdleTimeoutMs: 1000 };
let handle: GrpcServerHandle;
let address: string;

beforeAll(async () => {
  const server = createGrpcServer({ log: createSilentLogger(), authenticator: openAuthenticator, packageDefinition: loadSubmissionServiceProto().packageDefinition, serviceNames: [], limits: LIMITS });
  handle = await server.listen(0, "127.0.0.1");
  address = `127.0.0.1:${handle.port}`;
});
afterAll(() => handle?.close(100));

function healthClient() {
  const proto = grpc.loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as any;
  return new proto.grpc.health.v1.Health(address, grpc.credentials.createInsecure()) as grpc.Client & {
    Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  };
}
const check = (client: ReturnType<typeof healthClient>, service: string) =>
  new Promise<{ status: string } | grpc.ServiceError>((resolve) => client.Check({ service }, (err, res) => resolve(err ?? res!)));

describe("gRPC server limits", () => {
  it("refuses a message larger than GRPC_MAX_RECEIVE_MESSAGE_BYTES with RESOURCE_EXHAUSTED, and serves the next call", async () => {
    const client = healthClient();
    expect(await check(client, "x".repeat(100 * 1024))).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect(await check(client, "")).toMatchObject({ status: "SERVING" });
    client.close();
  });

  it("sends an idle connection away after GRPC_MAX_CONNECTION_IDLE_MS (the client reconnects for its next call)", async () => {
    const client = healthClient();
    expect(await check(client, "")).toMatchObject({ status: "SERVING" });
    const channel = client.getChannel();
    expect(channel.getConnectivityState(false)).toBe(grpc.connectivityState.READY);
    await new Promise((r) => setTimeout(r, LIMITS.maxConnectionIdleMs * 3));
    expect(channel.getConnectivityState(false)).not.toBe(grpc.connectivityState.READY);
    expect(await check(client, "")).toMatchObject({ status: "SERVING" });
    client.close();
  });
});
