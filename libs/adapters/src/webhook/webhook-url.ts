import { isIP } from "node:net";
import { isPublicAddress } from "../manifest/ip-address.js";
import { createHostAllowList } from "../manifest/safe-http.js";
import { MAX_URL_LENGTH } from "../url-length.js";

export type WebhookUrlCheck =
  | { ok: true; url: string }
  | { ok: false; code: "E_INVALID_WEBHOOK_URL" | "E_WEBHOOK_HOST_NOT_ALLOWED"; message: string };

/**
 * Checks a webhook target before it is accepted: an http(s) URL without a fragment, at
 * most MAX_URL_LENGTH characters, whose host is not a private, loopback or
 * otherwise non-public address literal (nor `localhost`) unless it is allow-listed
 * (entries as in ALLOWED_PRIVATE_HOSTS: "name", "ip", "name:port", "[v6]:port").
 *
 * Names are not resolved here (DNS answers change): the delivering agent checks every
 * address it connects to, so a public name that resolves to a private address is
 * refused at delivery time.
 */
export function createWebhookUrlCheck(allowedPrivateHosts: readonly string[]): (raw: string, field?: string) => WebhookUrlCheck {
  const isAllowed = createHostAllowList(allowedPrivateHosts);
  return (raw, field = "url") => {
    const invalid = (message: string): WebhookUrlCheck => ({ ok: false, code: "E_INVALID_WEBHOOK_URL", message });
    if (raw.length > MAX_URL_LENGTH) return invalid(`"${field}" is longer than ${MAX_URL_LENGTH} characters`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return invalid(`"${field}" is not a URL: ${raw.slice(0, 100)}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return invalid(`"${field}" must be an http:// or https:// URL, got ${url.protocol}`);
    if (url.hash !== "") return invalid(`"${field}" must not have a #fragment`);
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
    const local = isIP(host) !== 0 ? !isPublicAddress(host) : host === "localhost" || host.endsWith(".localhost");
    if (local && !isAllowed(host, port)) {
      return {
        ok: false,
        code: "E_WEBHOOK_HOST_NOT_ALLOWED",
        message: `"${field}" points at ${host}, which is not a public address (allow it with WEBHOOK_ALLOWED_PRIVATE_HOSTS for local use)`,
      };
    }
    return { ok: true, url: url.href };
  };
}
