import { getAddress, isAddress } from "ethers";
import { RegistryAddressField } from "@veriflow/api";
import { JobPriority, RECHECK_EVERY_BOUNDS, parseRecheckEvery, type JobRequest, type JobType } from "@veriflow/events";
import { badRequest } from "@veriflow/errors";
import { checkTextField } from "@veriflow/http";
import { MAX_URL_LENGTH, checkRpcUrl, createOutboundHostCheck, createWebhookUrlCheck, nonPublicHostMessage, type RpcUrlPolicy } from "@veriflow/adapters";
import { parseIpfsUri } from "@veriflow/verify";

export interface SubmissionPolicy {
  allowHttpManifests: boolean;
  /** Non-public hosts a manifestURI may name (ALLOWED_PRIVATE_HOSTS, as the manifest stage reads it). */
  allowedPrivateHosts?: string[];
  /** Which per-job rpcUrl values are accepted: the chain configuration the fallback and chain-check use. */
  rpcUrls: RpcUrlPolicy;
  /** Hosts a job's callbackUrl may name although private/loopback (WEBHOOK_ALLOWED_PRIVATE_HOSTS). */
  webhookAllowedPrivateHosts?: string[];
}

/**
 * A field's value, trimmed (surrounding whitespace, a trailing newline included, is dropped
 * as it always was); what remains must hold no control character.
 */
function field(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (Array.isArray(v)) throw badRequest("E_DUPLICATE_FIELD", `"${name}" was sent more than once`);
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/**
 * Every text field a submission carries, known or not, and every field name: text travels
 * into events, PostgreSQL (which cannot store NUL), logs and webhook bodies.
 */
function checkAllText(body: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(body)) {
    checkTextField(name, name);
    for (const v of [value].flat()) if (typeof v === "string") checkTextField(name, v.trim());
  }
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
  checkAllText(body);
  const registry = field(body, "registryAddress");
  if (!registry && !partial) throw badRequest("E_REGISTRY_ADDRESS_REQUIRED", 'field "registryAddress" is required (a 0x-prefixed contract address)');
  const registryAddress = registry ? checkRegistryAddress(registry) : undefined;

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

  const priority = readPriority(field(body, "priority"));
  const rawRecheck = field(body, "recheckEvery");
  const recheckEverySeconds = rawRecheck === undefined ? undefined : checkRecheckEvery(rawRecheck);
  const fresh = readFresh(field(body, "fresh"));

  if (!registryAddress || !manifestUri) return null;
  // Priority absent when not asked for: the gateway decides the class with the key (job-priority.ts).
  return {
    jobType,
    manifestUri,
    registryAddress,
    rpcUrl,
    callbackUrl,
    ...(priority ? { priority } : {}),
    ...(recheckEverySeconds ? { recheckEverySeconds } : {}),
    // Absent unless asked for: requests look as they did before `fresh` existed.
    ...(fresh ? { fresh } : {}),
  };
}

/** `fresh`: decide afresh instead of answering from a known verdict. */
function readFresh(raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  const value = { true: true, "1": true, false: false, "0": false }[raw.toLowerCase()];
  if (value === undefined) throw badRequest("E_INVALID_FRESH", `"fresh" must be true or false, got ${JSON.stringify(raw.slice(0, 32))}`);
  return value;
}

function readPriority(raw: string | undefined): JobPriority | undefined {
  if (raw === undefined) return undefined;
  const p = JobPriority.safeParse(raw);
  if (!p.success) throw badRequest("E_INVALID_PRIORITY", `"priority" must be interactive or bulk, got ${JSON.stringify(raw.slice(0, 32))}`);
  return p.data;
}

/** `recheckEvery`: seconds or an ISO-8601 duration, within RECHECK_EVERY_BOUNDS. */
function checkRecheckEvery(raw: string): number {
  const seconds = parseRecheckEvery(raw);
  const { min, max } = RECHECK_EVERY_BOUNDS;
  if (seconds === null) throw badRequest("E_INVALID_RECHECK_EVERY", `"recheckEvery" must be a whole number of seconds or an ISO-8601 duration like PT6H or P1D, got "${raw.slice(0, 40)}"`);
  if (seconds < min || seconds > max) throw badRequest("E_INVALID_RECHECK_EVERY", `"recheckEvery" must be between ${min} seconds (PT5M) and ${max} seconds (P365D), got ${seconds}`);
  return seconds;
}

/** What every job of a batch shares: checked once, with the same rules as a single submission's fields. */
export interface BatchFields {
  registryAddress: string;
  rpcUrl: string | null;
  /** The batch's callback (batch.completed), not each job's. */
  callbackUrl: string | null;
  /** Every job decided afresh (`fresh`), never from a known verdict. */
  fresh?: boolean;
}

/**
 * Checks a batch's shared fields (registryAddress, rpcUrl, callbackUrl); the manifestURIs
 * are each file's own and are checked with its job (parseSubmission).
 */
export function parseBatchFields(body: Record<string, unknown>, policy: SubmissionPolicy): BatchFields {
  const { manifestURI: _a, manifestUri: _b, ...shared } = body;
  readSubmission("verify", shared, policy, true);
  const registry = field(shared, "registryAddress");
  if (!registry) throw badRequest("E_REGISTRY_ADDRESS_REQUIRED", 'field "registryAddress" is required (a 0x-prefixed contract address)');
  const rawCallbackUrl = field(shared, "callbackUrl") ?? null;
  const fresh = readFresh(field(shared, "fresh"));
  return {
    registryAddress: checkRegistryAddress(registry),
    rpcUrl: field(shared, "rpcUrl") ?? null,
    callbackUrl: rawCallbackUrl === null ? null : checkCallbackUrl(rawCallbackUrl, policy),
    ...(fresh ? { fresh } : {}),
  };
}

/** The manifestURI fields of a batch, in order (one field is a string, several an array). */
export function manifestUrisOf(body: Record<string, unknown>): string[] {
  const raw = body.manifestURI ?? body.manifestUri;
  return [raw ?? []].flat().map((v) => (typeof v === "string" ? v.trim() : ""));
}

/**
 * `0x` and 40 hex digits, in any case; a mixed-case address must carry a correct EIP-55
 * checksum. ethers' isAddress alone would also take a bare 40-digit hex string and an ICAP
 * (XE…) address, which no client of this API means to send. Returns the checksummed form.
 */
function checkRegistryAddress(value: string): string {
  const known = checkedAddresses.get(value);
  if (known !== undefined) return known;
  const refuse = (why: string) => badRequest("E_INVALID_REGISTRY_ADDRESS", `"registryAddress" ${why}`);
  // Its form is the published schema's (libs/api); the checksum needs ethers, so it is checked here.
  const form = RegistryAddressField.safeParse(value);
  if (!form.success) throw refuse(form.error.issues[0]!.message);
  if (!isAddress(value)) throw refuse("has mixed case but a wrong EIP-55 checksum: send it all lower-case or with its correct checksum");
  const address = getAddress(value);
  if (checkedAddresses.size >= MAX_CHECKED_ADDRESSES) checkedAddresses.delete(checkedAddresses.keys().next().value!);
  checkedAddresses.set(value, address);
  return address;
}

/**
 * Registry addresses already checked, to their checksummed form. The EIP-55 checksum is a
 * keccak-256 computed in JavaScript, twice a job (the check, the checksummed form): for a
 * batch's files, which all name one registry, that was 2 % of the gateway's CPU under
 * bench:priority's load. Requests name a few registries; the memo is bounded all the same.
 */
const checkedAddresses = new Map<string, string>();
const MAX_CHECKED_ADDRESSES = 1024;

const webhookUrlChecks = new WeakMap<SubmissionPolicy, ReturnType<typeof createWebhookUrlCheck>>();
const manifestHostChecks = new WeakMap<SubmissionPolicy, ReturnType<typeof createOutboundHostCheck>>();

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
    throw badRequest("E_INVALID_MANIFEST_URI", '"manifestURI" is not a URI');
  }
  if (url.protocol === "http:" && !policy.allowHttpManifests) {
    throw badRequest("E_MANIFEST_URI_NOT_ALLOWED", "http:// manifest URIs are not allowed here; use https:// or ipfs://");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw badRequest("E_INVALID_MANIFEST_URI", `"manifestURI" must be ipfs://, https:// (or http:// where allowed), got ${url.protocol}`);
  }
  let hostCheck = manifestHostChecks.get(policy);
  if (!hostCheck) manifestHostChecks.set(policy, (hostCheck = createOutboundHostCheck(policy.allowedPrivateHosts ?? [])));
  const host = hostCheck(url);
  if (host !== null) throw badRequest("E_MANIFEST_URI_HOST_NOT_ALLOWED", nonPublicHostMessage("manifestURI", host, "ALLOWED_PRIVATE_HOSTS"));
}
