import { readFile } from "node:fs/promises";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { SCHEMAS_DIR, findStaleSchemaFiles, renderEventJsonSchemas, schemaFileName } from "../scripts/generate-json-schemas.js";
import { eventTypes, type EventType } from "./catalog.js";
import { createEvent, createRequestEvent, decodeEvent, encodeEvent, type Envelope } from "./envelope.js";

// The published contract (docs/events/*.schema.json) read back from disk, as a subscriber
// would, and checked with a JSON Schema validator that knows nothing of zod.
const validators = {} as Record<EventType | "envelope", ValidateFunction>;
beforeAll(async () => {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv); // CommonJS: under NodeNext the default import is module.exports
  for (const name of ["envelope", ...eventTypes] as const) {
    validators[name] = ajv.compile(JSON.parse(await readFile(`${SCHEMAS_DIR}${schemaFileName(name)}`, "utf8")));
  }
});

/** An event as it travels: JSON bytes on the wire, parsed by the subscriber. */
const wire = (event: Envelope): any => JSON.parse(new TextDecoder().decode(encodeEvent(event)));

function check(type: EventType, json: unknown) {
  const ok = validators[type](json) && validators.envelope(json);
  return { ok, errors: validators[type].errors ?? validators.envelope.errors ?? null };
}

const hash = `0x${"ab".repeat(32)}`;
const addr = `0x${"12".repeat(20)}`;
const onchain = { creator: addr, timestamp: 1_700_000_000, manifestURI: "ipfs://bafy", revoked: false, blockNumber: 7 };
const verifyResult = {
  status: "OK" as const,
  reasons: [],
  fileHash: hash,
  recovered: addr,
  onchain,
  checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
};
const manifest = { uri: "ipfs://bafy", cid: "bafy", contentHash: hash, contentUri: null, creatorDid: `did:pkh:eip155:1:${addr}`, createdAt: "2025-01-01T00:00:00Z", signature: "0x00" };
const request = { jobType: "verify" as const, manifestUri: "ipfs://bafy", registryAddress: addr, rpcUrl: null, callbackUrl: "https://example.com/hook" };

/** One job's events, built with the library's own constructors. */
function jobEvents() {
  const jobId = "9f1d2c3b-0000-4000-8000-000000000001";
  const requested = createRequestEvent(jobId, { jobId, request, upload: { bucket: "veriflow-uploads", name: jobId, size: 5, fileName: "a.txt", contentType: "text/plain", nuid: null, chunks: null, digest: null } });
  const hashed = createEvent("content.hashed", { jobId, request, contentHash: hash, size: 5, startedAt: new Date().toISOString(), attempts: 1 }, requested);
  const checked = createEvent("manifest.checked", { jobId, request, contentHash: hash, manifest, recovered: addr, checks: { manifestHashOk: true, signatureOk: true, didOk: true }, attempts: 1 }, hashed);
  // The manifest stage found a recorded verdict: a pointer for chain-check, no manifest.
  const pointing = createEvent("manifest.checked", { jobId, request, contentHash: hash, known: { jobId: "9f1d2c3b-0000-4000-8000-000000000000", run: 1, decidedAtBlock: 7, hashed: { size: 5, startedAt: new Date().toISOString() } }, attempts: 1 }, hashed);
  const completed = createEvent("verification.completed", { jobId, jobType: "verify", contentHash: hash, result: verifyResult, attempts: 1 }, checked);
  const proof = createEvent(
    "verification.completed",
    {
      jobId,
      jobType: "proof",
      contentHash: hash,
      result: { ...verifyResult, proofVersion: "veriflow.proof/1", generatedAt: new Date().toISOString(), chainId: 31337, registryAddress: addr, registration: { txHash: hash, blockNumber: 7, blockHash: hash, logIndex: 0 }, txHash: hash, blockNumber: 7, manifest },
      attempts: 1,
    },
    checked,
  );
  const failed = createEvent("verification.failed", { jobId, jobType: "verify", stage: "manifest", code: "E_MANIFEST_NOT_FOUND", message: "404", attempts: 1 }, hashed);
  return { requested, hashed, checked, pointing, completed, proof, failed };
}

describe("docs/events JSON Schemas", () => {
  it("are up to date with the zod catalog (run `npm run generate:event-schemas` if not)", async () => {
    expect(await findStaleSchemaFiles()).toEqual([]);
    // Every job event's, the envelope's, and registry.changed's (no job's event: its own envelope and stream).
    expect(Object.keys(renderEventJsonSchemas()).sort()).toEqual(["envelope", ...eventTypes, "registry.changed"].map((n) => schemaFileName(n as EventType)).sort());
  });

  it("carry an $id, a title and the catalog's doc comments", async () => {
    const completed = JSON.parse(await readFile(`${SCHEMAS_DIR}${schemaFileName("verification.completed")}`, "utf8"));
    expect(completed).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema", $id: "urn:veriflow:schema:event:verification.completed", title: expect.stringContaining("verification.completed") });
    expect(completed.description).toMatch(/A verdict was reached/);
    expect(completed.properties.correlationId.description).toMatch(/job id/);
    expect(completed.$defs.OnchainEntry.properties.timestamp.description).toMatch(/0 means/);
    expect(completed.$defs.OnchainEntry.properties.blockNumber.description).toMatch(/block the entry was read at/);
  });

  it("accept every event the library builds, after a JSON round trip", () => {
    for (const event of Object.values(jobEvents()) as Envelope[]) {
      const result = check(event.type, wire(event));
      expect(result.errors, `${event.type}: ${JSON.stringify(result.errors)}`).toBeNull();
      expect(result.ok).toBe(true);
    }
  });

  it("accept what the versioning policy allows: older events without request.callbackUrl or result.onchain.blockNumber, and unknown added fields", () => {
    const { requested, completed } = jobEvents();
    const old = wire(requested);
    delete old.data.request.callbackUrl;
    expect(check("verification.requested", old).ok).toBe(true);
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(old))).data).toMatchObject({ request: { callbackUrl: null } });
    const oldVerdict = wire(completed);
    delete oldVerdict.data.result.onchain.blockNumber;
    expect(check("verification.completed", oldVerdict).ok).toBe(true);
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(oldVerdict))).data).toMatchObject({ result: { onchain: { blockNumber: null } } });
    const added = wire(completed);
    added.data.someFutureField = { anything: 1 };
    expect(check("verification.completed", added).ok).toBe(true);
  });

  it("reject malformed events, as the library's own decoder does", () => {
    const { completed, failed } = jobEvents();
    const cases: [string, EventType, (e: any) => void][] = [
      ["a content hash that is not 32 bytes of hex", "verification.completed", (e) => (e.data.contentHash = "0x1234")],
      ["a result without a verdict", "verification.completed", (e) => delete e.data.result.status],
      ["an unknown verdict", "verification.completed", (e) => (e.data.result.status = "MAYBE")],
      ["an occurredAt that is not a timestamp", "verification.completed", (e) => (e.occurredAt = "yesterday")],
      ["a missing correlation id", "verification.completed", (e) => delete e.correlationId],
      ["zero attempts", "verification.completed", (e) => (e.data.attempts = 0)],
      ["an error code not shaped E_*", "verification.failed", (e) => (e.data.code = "not-found")],
      ["an unknown stage", "verification.failed", (e) => (e.data.stage = "somewhere")],
    ];
    for (const [what, type, breakIt] of cases) {
      const json = wire(type === "verification.failed" ? failed : completed);
      breakIt(json);
      expect(check(type, json).ok, what).toBe(false);
      expect(() => decodeEvent(new TextEncoder().encode(JSON.stringify(json))), what).toThrow();
    }
    // A valid event of another type is not a completion.
    expect(validators["verification.completed"](wire(failed))).toBe(false);
    expect(validators.envelope({ id: "x" })).toBe(false);
  });
});
