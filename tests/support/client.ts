/** A REST client of the old queue's API, as any HTTP client would call it. */

import { JOBS_PATH } from "@veriflow/events";

export interface SubmitInput {
  file: Uint8Array | string;
  fileName?: string;
  registryAddress?: string;
  manifestURI?: string;
  rpcUrl?: string;
  callbackUrl?: string;
  type?: "verify" | "proof";
  /** Decide afresh, never from a known verdict. */
  fresh?: boolean;
  headers?: Record<string, string>;
}

export async function submit(baseUrl: string, input: SubmitInput): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append("file", new Blob([typeof input.file === "string" ? input.file : Buffer.from(input.file)]), input.fileName ?? "upload.bin");
  if (input.registryAddress !== undefined) form.append("registryAddress", input.registryAddress);
  if (input.manifestURI !== undefined) form.append("manifestURI", input.manifestURI);
  if (input.rpcUrl !== undefined) form.append("rpcUrl", input.rpcUrl);
  if (input.callbackUrl !== undefined) form.append("callbackUrl", input.callbackUrl);
  if (input.fresh !== undefined) form.append("fresh", String(input.fresh));
  const res = await fetch(`${baseUrl}${JOBS_PATH}/${input.type ?? "verify"}`, { method: "POST", body: form, headers: input.headers });
  return { status: res.status, body: await res.json() };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.json() };
}

/** Polls a job until it is completed or failed. */
export async function waitForJob(baseUrl: string, jobId: string, timeoutMs = 20_000, headers: Record<string, string> = {}): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await getJson(`${baseUrl}${JOBS_PATH}/${jobId}`, headers);
    if (status !== 200) throw new Error(`GET job ${jobId} answered ${status}: ${JSON.stringify(body)}`);
    if (body.status === "completed" || body.status === "failed") return body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Calls `attempt` until it returns something other than undefined (errors count as undefined); throws past `timeoutMs`. */
export async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await attempt().catch(() => undefined);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
