import { describe, expect, it } from "vitest";
import { JOBS_PATH, UPLOADS_BUCKET } from "@veriflow/events";
import { grpc, type SubmissionServiceClient } from "@veriflow/grpc";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { submissionServiceClient, submitVerification } from "../support/grpc.js";
import { systemTest } from "../support/shared-system.js";
import type { System } from "../support/system.js";

// What a hostile client sends at the edge, over REST and gRPC alike: refused with a 4xx
// (gRPC INVALID_ARGUMENT) and the same E_* code on both, before a byte is stored or any
// connection is made to what it names. The system allows 127.0.0.1 and localhost
// (ALLOWED_PRIVATE_HOSTS) and 127.0.0.1 (WEBHOOK_ALLOWED_PRIVATE_HOSTS), as `npm start` does;
// nothing here ever connects to the other addresses it names.
let sys: System;
let nats: NatsClients;
let submissions: SubmissionServiceClient;

systemTest.beforeAll(async ({ system }) => {
  sys = system;
  nats = await connectNats({ url: sys.nats.url, name: "hostile-input-test", log: createSilentLogger() });
  submissions = submissionServiceClient(sys.gatewayGrpcAddress);
  return async () => {
    submissions.close();
    await nats.close();
  };
});

const uploadNames = async () => {
  const names = new Set<string>();
  const info = await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`, { subjects_filter: ">" }).catch(() => null);
  for (const subject of Object.keys(info?.state.subjects ?? {})) names.add(subject);
  return names;
};

interface Fields {
  registryAddress?: string;
  manifestURI?: string;
  rpcUrl?: string;
  callbackUrl?: string;
  fileName?: string;
}

/** REST, fields before the file (as the CLI sends them): refused before the file is stored. */
async function viaRest(f: Fields): Promise<{ status: number; code: string; message: string }> {
  const form = new FormData();
  for (const [name, value] of Object.entries({ ...f, fileName: undefined })) if (value !== undefined) form.append(name, value);
  form.append("file", new Blob(["hostile"]), f.fileName ?? "x.txt");
  const res = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: form });
  const body = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, code: body.error?.code ?? "(accepted)", message: body.error?.message ?? "" };
}

async function viaGrpc(f: Fields): Promise<{ status: grpc.status | "ok"; code: string }> {
  const metadata = { type: "JOB_TYPE_VERIFY" as const, registryAddress: f.registryAddress, manifestUri: f.manifestURI, rpcUrl: f.rpcUrl, callbackUrl: f.callbackUrl, fileName: f.fileName };
  const answer = await submitVerification(submissions, [{ metadata }, { chunk: Buffer.from("hostile") }]).catch((e: grpc.ServiceError) => e);
  if (!(answer instanceof Error)) return { status: "ok", code: "(accepted)" };
  const err = answer;
  return { status: err.code, code: String(err.metadata.get("x-error-code")[0]) };
}

const NON_PUBLIC = [
  "10.0.0.1",
  "167772161", // 10.0.0.1, decimal
  "0xa.0.0.1", // 10.0.0.1, hex
  "012.0.0.1", // 10.0.0.1, octal
  "[::ffff:10.0.0.1]", // IPv4-mapped
  "169.254.169.254", // cloud metadata
  "[fd00:ec2::254]", // AWS metadata over IPv6
  "[fe80::a9fe:a9fe]", // link-local (169.254.169.254 inside fe80::/10)
  "100.64.0.1", // CGNAT
  "[::]",
  "224.0.0.1",
];

describe("hostile input is refused at submission, REST and gRPC alike", () => {
  it("manifestURI, rpcUrl and callbackUrl naming non-public addresses, in any spelling", async () => {
    const before = await uploadNames();
    const cases: [Fields, string][] = [];
    for (const host of NON_PUBLIC) {
      cases.push([{ manifestURI: `http://${host}/m.json` }, "E_MANIFEST_URI_HOST_NOT_ALLOWED"]);
      cases.push([{ manifestURI: `${sys.manifests.url}/m.json`, callbackUrl: `http://${host}/hook` }, "E_CALLBACK_HOST_NOT_ALLOWED"]);
      // This system allows no other endpoint than its RPC_URL: refused before the host matters.
      cases.push([{ manifestURI: `${sys.manifests.url}/m.json`, rpcUrl: `http://${host}:8545/` }, "E_RPC_URL_NOT_ALLOWED"]);
    }
    cases.push([{ manifestURI: `${sys.manifests.url}/m.json`, callbackUrl: "http://localhost:1/hook" }, "E_CALLBACK_HOST_NOT_ALLOWED"]);
    for (const [fields, code] of cases) {
      const f = { registryAddress: sys.registry, ...fields };
      const rest = await viaRest(f);
      expect(rest, JSON.stringify(f)).toMatchObject({ status: 400, code });
      if (code !== "E_RPC_URL_NOT_ALLOWED") expect(rest.message).toContain("not a public address");
      expect(await viaGrpc(f), JSON.stringify(f)).toEqual({ status: grpc.status.INVALID_ARGUMENT, code });
    }
    expect(await uploadNames()).toEqual(before);
  });

  it("control characters in any text field, the file name included", async () => {
    const manifestURI = `${sys.manifests.url}/m.json`;
    const cases: Fields[] = [
      { registryAddress: `${sys.registry}\u0000`, manifestURI },
      { manifestURI: `${sys.manifests.url}/m\t.json` },
      { manifestURI: `${sys.manifests.url}/\u202Enosj.m` },
      { manifestURI, callbackUrl: "http://127.0.0.1:1/\u0085" },
      { manifestURI, fileName: "photo\u202Egpj.exe" },
      { manifestURI, fileName: "photo\u0007.jpg" },
    ];
    for (const fields of cases) {
      const f = { registryAddress: sys.registry, ...fields };
      // busboy already refuses a raw C0 control in a part header (a file name) as malformed.
      const restCodes = /[\u0000-\u001F]/.test(f.fileName ?? "") ? ["E_CONTROL_CHARACTER", "E_BAD_MULTIPART"] : ["E_CONTROL_CHARACTER"];
      const rest = await viaRest(f);
      expect(rest.status, JSON.stringify(f)).toBe(400);
      expect(restCodes, JSON.stringify(f)).toContain(rest.code);
      expect(await viaGrpc(f), JSON.stringify(f)).toEqual({ status: grpc.status.INVALID_ARGUMENT, code: "E_CONTROL_CHARACTER" });
    }
  });

  it("registry addresses without 0x, in ICAP form, of the wrong length or with a wrong checksum", async () => {
    const manifestURI = `${sys.manifests.url}/m.json`;
    const mixed = sys.registry.slice(0, -1) + (sys.registry.at(-1) === sys.registry.at(-1)!.toLowerCase() ? sys.registry.at(-1)!.toUpperCase() : sys.registry.at(-1)!.toLowerCase());
    for (const registryAddress of [sys.registry.slice(2), "XE56B6LYTQM6IC1650ZDTNXH76V5G6HTUW3", `${sys.registry}00`, sys.registry.slice(0, 40)]) {
      expect(await viaRest({ registryAddress, manifestURI }), registryAddress).toMatchObject({ status: 400, code: "E_INVALID_REGISTRY_ADDRESS" });
      expect(await viaGrpc({ registryAddress, manifestURI }), registryAddress).toEqual({ status: grpc.status.INVALID_ARGUMENT, code: "E_INVALID_REGISTRY_ADDRESS" });
    }
    // A changed letter breaks the checksum only if the registry's address has a letter there.
    if (/[a-f]/i.test(sys.registry.at(-1)!)) expect(await viaRest({ registryAddress: mixed, manifestURI })).toMatchObject({ code: "E_INVALID_REGISTRY_ADDRESS" });
  });
});
