import { UPLOADS_BUCKET, createEvent, createRequestEvent, type Envelope } from "@veriflow/events";

/** Pipeline events built with the real envelope helpers, for the consume loops' tests. Not used by the library. */

const HASH = "0x" + "ab".repeat(32);
const CREATOR = "0x" + "1".repeat(40);

export function requestFor(jobId: string): Envelope<"verification.requested"> {
  return createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
    upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null },
  });
}

export function hashedFor(event: Envelope<"verification.requested">, attempt = 1): Envelope<"content.hashed"> {
  const d = event.data;
  return createEvent("content.hashed", { jobId: d.jobId, request: d.request, contentHash: HASH, size: 1, startedAt: event.occurredAt, attempts: attempt }, event);
}

export function checkedFor(event: Envelope<"content.hashed">): Envelope<"manifest.checked"> {
  const d = event.data;
  return createEvent(
    "manifest.checked",
    {
      jobId: d.jobId,
      request: d.request,
      contentHash: d.contentHash,
      manifest: {
        uri: d.request.manifestUri,
        cid: null,
        contentHash: d.contentHash,
        contentUri: null,
        creatorDid: `did:pkh:eip155:31337:${CREATOR}`,
        createdAt: event.occurredAt,
        signature: "0x" + "3".repeat(130),
      },
      recovered: CREATOR,
      checks: { manifestHashOk: true, signatureOk: true, didOk: true },
      attempts: 1,
    },
    event,
  );
}

export function completedFor(event: Envelope<"manifest.checked">, attempt = 1): Envelope<"verification.completed"> {
  const d = event.data;
  return createEvent(
    "verification.completed",
    {
      jobId: d.jobId,
      jobType: d.request.jobType,
      contentHash: d.contentHash,
      result: {
        status: "OK",
        reasons: [],
        fileHash: d.contentHash,
        recovered: CREATOR,
        onchain: { creator: CREATOR, timestamp: 1_700_000_000, manifestURI: d.request.manifestUri, revoked: false, blockNumber: 7 },
        checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
      },
      attempts: attempt,
    },
    event,
  );
}
