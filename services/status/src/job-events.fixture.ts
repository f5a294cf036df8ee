import {
  UPLOADS_BUCKET,
  createEvent,
  createRequestEvent,
  createRetryEvent,
  newJobId,
  type Envelope,
  type JobType,
  type Stage,
} from "@veriflow/events";

/**
 * One job's events built with the real envelope helpers, for tests: each stage caused by
 * the one before, one second apart from `t0`. Not used by the service itself.
 */
export function jobEvents(opts: { jobId?: string; jobType?: JobType; t0?: Date; attempts?: number; tenant?: string } = {}) {
  const jobId = opts.jobId ?? newJobId();
  const jobType = opts.jobType ?? "verify";
  const t0 = opts.t0 ?? new Date("2025-01-01T00:00:00.000Z");
  const at = (s: number) => new Date(t0.getTime() + s * 1000);
  const attempts = opts.attempts ?? 1;
  // Upper-case on purpose: the projection stores hashes lower-case.
  const contentHash = "0x" + jobId.replace(/-/g, "").padEnd(64, "a").slice(0, 64).toUpperCase();
  const creator = "0x" + "1".repeat(40);
  const request = {
    jobType,
    manifestUri: `ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/${jobId}.json`,
    registryAddress: "0x" + "2".repeat(40),
    rpcUrl: null,
    callbackUrl: null,
  };

  const requested = createRequestEvent(
    jobId,
    {
      jobId,
      request,
      upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1234, fileName: "photo.jpg", contentType: "image/jpeg", nuid: null, chunks: null, digest: null },
    },
    at(0),
    opts.tenant,
  );
  const hashed = createEvent(
    "content.hashed",
    { jobId, request, contentHash, size: 1234, startedAt: at(1).toISOString(), attempts },
    requested,
    at(2),
  );
  const checked = createEvent(
    "manifest.checked",
    {
      jobId,
      request,
      contentHash,
      manifest: {
        uri: request.manifestUri,
        cid: null,
        contentHash,
        contentUri: null,
        creatorDid: `did:pkh:eip155:31337:${creator}`,
        createdAt: at(0).toISOString(),
        signature: "0x" + "3".repeat(130),
      },
      recovered: creator,
      checks: { manifestHashOk: true, signatureOk: true, didOk: true },
      attempts,
    },
    hashed,
    at(3),
  );
  const completed = createEvent(
    "verification.completed",
    {
      jobId,
      jobType,
      contentHash,
      result: {
        status: "OK",
        reasons: [],
        fileHash: contentHash.toLowerCase(),
        recovered: creator,
        onchain: { creator, timestamp: 1_700_000_000, manifestURI: request.manifestUri, revoked: false, blockNumber: 7 },
        checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
      },
      attempts,
    },
    checked,
    at(4),
  );
  const failed = (stage: Stage = "chain-check", failedAttempts = 3, cause: Pick<Envelope, "id" | "correlationId"> = checked) =>
    createEvent(
      "verification.failed",
      { jobId, jobType, stage, code: "E_RPC_UNAVAILABLE", message: "rpc endpoint unreachable", attempts: failedAttempts },
      cause,
      at(5),
    );
  /**
   * Run `run` of the job, retried after `failure` (a verification.failed of the manifest stage):
   * the manifest stage's input re-issued, and what it causes, 10 s per run after t0.
   */
  const rerun = (run: number, failure: Pick<Envelope, "id">) => {
    const t = (s: number) => at(10 * run + s);
    const input = createRetryEvent(hashed, run, failure.id, t(0));
    const checkedAgain = createEvent("manifest.checked", checked.data, input, t(1));
    const completedAgain = createEvent("verification.completed", completed.data, checkedAgain, t(2));
    const failedAgain = (stage: Stage = "manifest", failedAttempts = 1) =>
      createEvent(
        "verification.failed",
        { jobId, jobType, stage, code: "E_MANIFEST_UNAVAILABLE", message: "manifest host unreachable", attempts: failedAttempts },
        input,
        t(2),
      );
    return { hashed: input, checked: checkedAgain, completed: completedAgain, failed: failedAgain };
  };
  return { jobId, contentHash, request, requested, hashed, checked, completed, failed, rerun, at };
}
