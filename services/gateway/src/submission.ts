import { getAddress, isAddress } from "ethers";
import type { JobRequest, JobType } from "@veriflow/events";
import { badRequest } from "@veriflow/errors";
import { MAX_URL_LENGTH, checkRpcUrl, createWebhookUrlCheck, type RpcUrlPolicy } from "@veriflow/adapters";
import { parseIpfsUri } from "@veriflow/verify";

export interface SubmissionPolicy {
  allowHttpManifests: boolean;
  /** Which per-job rpcUrl values are accepted: the chain configuration the fallback and chain-check use. */
  rpcUrls: RpcUrlPolicy;
  /** Hosts a job's callbackUrl may name although private/loopback (WEBHOOK_ALLOWED_PRIVATE_HOSTS). */
  webhookAllowedPrivateHosts?: string[];
}

function field(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (Array.isArray(v)) throw badRequest("E_DUPLICATE_FIELD", `"${name}" was sent more than once`);
  if (typeof v === "string") checkStorableText(name, v);
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/**
 * Text that travels into events and PostgreSQL must not contain NUL, which PostgreSQL
 * cannot store in text or jsonb: one such field used to fail every batch it was in. Refused
 * here as a 400; the projection still makes any that arrive another way storable.
 */
export function checkStorableText(name: string, value: string | null): void {
  if (value?.includes("\u0000")) throw badRequest("E_BAD_REQUEST", `"${name}" contains a NUL character (\\u0000); send it without`);
}

/** Checks the multipart fields of a submission; every problem is a 400 a person can act on. */
export function parseSubmission(jobType: JobType, body: Record<string, unknown>, policy: SubmissionPolicy): JobRequest {
  return readSubmission(jobType, body, policy, false)!;
}

/**
 * Checks the fields that arrived so far (those sent before the file part), as
 * parseSubmission would, without requiring the ones still to come: a bad field refuses
 * the upload before its file is stored.
 */
export function checkFieldsSoFar(jobType: JobType, body: Record<string, unknown>, policy: SubmissionPolicy): void {
  readSubmission(jobType, body, policy, true);
}

function readSubmission(jobType: JobType, body: Record<string, unknown>, policy: SubmissionPolicy, partial: boolean): JobRequest | null {
  const registry = field(body, "registryAddress");
  if (!registry && !partial) throw badRequest("E_REGISTRY_ADDRESS_REQUIRED", 'field "registryAddress" is required (a 0x-prefixed contract address)');
  if (registry && !isAddress(registry)) {
    throw badRequest("E_INVALID_REGISTRY_ADDRESS", `"registryAddress" is not a valid address (40 hex digits after 0x, correct checksum if mixed-case): ${String(registry).slice(0, 100)}`);
  }

  const manifestUri = field(body, "manifestURI") ?? field(body, "manifestUri");
  if (!manifestUri && !partial) throw badRequest("E_MANIFEST_URI_REQUIRED", 'field "manifestURI" is required (ipfs://<CID>[/path] or https://…)');
  if (manifestUri) checkManifestUri(manifestUri, policy);

  const rpcUrl = field(body, "rpcUrl") ?? null;
  if (rpcUrl !== null) {
    const r = checkRpcUrl(rpcUrl, policy.rpcUrls);
    if (!r.ok) throw badRequest(r.code, r.message);
  }

  const rawCallbackUrl = field(body, "callbackUrl") ?? null;
  const callbackUrl = rawCallbackUrl === null ? null : checkCallbackUrl(rawCallbackUrl, policy);

  if (!registry || !manifestUri) return null;
  return { jobType, manifestUri, registryAddress: getAddress(registry), rpcUrl, callbackUrl };
}

const webhookUrlChecks = new WeakMap<SubmissionPolicy, ReturnType<typeof createWebhookUrlCheck>>();

/** An http(s) URL, length-capped, not a private/loopback host unless allow-listed. */
function checkCallbackUrl(raw: string, policy: SubmissionPolicy): string {
  let check = webhookUrlChecks.get(policy);
  if (!check) webhookUrlChecks.set(policy, (check = createWebhookUrlCheck(policy.webhookAllowedPrivateHosts ?? [])));
  const r = check(raw, "callbackUrl");
  if (!r.ok) throw badRequest(r.code === "E_INVALID_WEBHOOK_URL" ? "E_INVALID_CALLBACK_URL" : "E_CALLBACK_HOST_NOT_ALLOWED", r.message);
  return r.url;
}

function checkManifestUri(uri: string, policy: SubmissionPolicy): void {
  if (uri.length > MAX_URL_LENGTH) throw badRequest("E_INVALID_MANIFEST_URI", `"manifestURI" is longer than ${MAX_URL_LENGTH} characters`);
  if (uri.startsWith("ipfs://")) {
    try {
      parseIpfsUri(uri);
      return;
    } catch (err) {
      throw badRequest("E_INVALID_MANIFEST_URI", `"manifestURI" is not a valid ipfs:// URI: ${(err as Error).message}`);
    }
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw badRequest("E_INVALID_MANIFEST_URI", `"manifestURI" is not a URI: ${uri.slice(0, 100)}`);
  }
  if (url.protocol === "https:") return;
  if (url.protocol === "http:") {
    if (policy.allowHttpManifests) return;
    throw badRequest("E_MANIFEST_URI_NOT_ALLOWED", "http:// manifest URIs are not allowed here; use https:// or ipfs://");
  }
  throw badRequest("E_INVALID_MANIFEST_URI", `"manifestURI" must be ipfs://, https:// (or http:// where allowed), got ${url.protocol}`);
}
