import { describe, expect, it } from "vitest";
import { JOBS_PATH, UPLOADS_BUCKET } from "@veriflow/events";
import { grpc, type SubmissionServiceClient } from "@veriflow/grpc";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { rawExchange } from "@veriflow/testing";
import { eventually } from "../support/client.js";
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

/** The uploads bucket's stored data: its chunk subjects (a deleted object keeps only a tombstone of its metadata). */
const uploadNames = async () => {
  const names = new Set<string>();
  const info = await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`, { subjects_filter: `$O.${UPLOADS_BUCKET}.C.>` }).catch(() => null);
  for (const subject of Object.keys(info?.state.subjects ?? {})) names.add(subject);
  return names;
};

/** A refused upload may be removed just after its answer (multer's abort): wait for it, briefly. */
const noUploadsBeyond = (before: Set<string>) =>
  eventually("no upload left behind", async () => {
    const now = await uploadNames();
    return [...now].every((n) => before.has(n)) ? true : undefined;
  }, 5000);

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
    await noUploadsBeyond(before);
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

describe("malformed multipart bodies are a prompt 400, and leave nothing behind", () => {
  const port = () => Number(new URL(sys.gatewayUrl).port);
  const post = (body: string, declaredLength = Buffer.byteLength(body)) =>
    `POST ${JOBS_PATH}/verify HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: ${declaredLength}\r\n\r\n${body}`;
  const part = (disposition: string, value: string) => `--B\r\nContent-Disposition: ${disposition}\r\n\r\n${value}\r\n`;
  const fields = () => part('form-data; name="registryAddress"', sys.registry) + part('form-data; name="manifestURI"', `${sys.manifests.url}/m.json`);
  const file = (bytes: string) => part('form-data; name="file"; filename="a.bin"', bytes);

  it("a part without a name, wherever it is (it was a 503 E_STORAGE_UNAVAILABLE, or silently dropped)", async () => {
    const before = await uploadNames();
    const nameless = ["form-data", "form-data; name", 'form-data; name=""', 'form-data; filename="n.bin"', 'attachment; name="x"'];
    for (const disposition of nameless) {
      for (const body of [fields() + part(disposition, "v") + file("x".repeat(100_000)), fields() + file("x".repeat(100_000)) + part(disposition, "v")]) {
        const answer = await rawExchange(port(), post(body + "--B--\r\n"));
        expect(answer.status, disposition).toBe(400);
        expect(answer.body, disposition).toMatchObject({ error: { code: "E_BAD_MULTIPART", message: expect.stringMatching(/part \d+ .*name/) } });
      }
    }
    await noUploadsBeyond(before);
  });

  it("a bad first delimiter, a field, then a file part cut short by a client that holds the connection (it was never answered)", async () => {
    const before = await uploadNames();
    const body = `--X\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n${fields()}--B\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\nsome bytes`;
    const answer = await rawExchange(port(), post(body, Buffer.byteLength(body) + 1_000_000), 5000);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: "E_BAD_MULTIPART", message: expect.stringContaining("does not start with the boundary delimiter") } });
    expect(answer.ms).toBeLessThan(2000);
    expect(answer.headers.connection).toBe("close");
    await noUploadsBeyond(before);
  });
});

describe("request methods", () => {
  const port = () => Number(new URL(sys.gatewayUrl).port);
  const ask = (method: string, path: string) => rawExchange(port(), `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);

  it("a method a route does not take is 405 with Allow (TRACE and PROPFIND too, which were 501, and CONNECT, which was never answered)", async () => {
    for (const method of ["TRACE", "PROPFIND", "CONNECT", "DELETE", "PUT", "PATCH", "GET"]) {
      const r = await ask(method, "/api/verify");
      expect(r.status, method).toBe(405);
      expect(r.headers.allow, method).toBe("POST");
      expect(r.body, method).toMatchObject({ error: { code: "E_METHOD_NOT_ALLOWED", message: expect.stringContaining("POST") } });
    }
    const job = await ask("PROPFIND", `${JOBS_PATH}/7d3f0c1e-0000-4000-8000-000000000000`);
    expect(job).toMatchObject({ status: 405, headers: { allow: "HEAD, GET" } });
    expect((await ask("TRACE", `${JOBS_PATH}/verify`)).headers.allow).toBe("POST, HEAD, GET"); // GET: it is a job id there
    expect((await ask("OPTIONS", "/api/verify")).headers.allow).toBe("POST");
    // No route has the path: 404 whatever the method.
    expect(await ask("PROPFIND", "/nowhere")).toMatchObject({ status: 404, body: { error: { code: "E_NOT_FOUND" } } });
  });
});
