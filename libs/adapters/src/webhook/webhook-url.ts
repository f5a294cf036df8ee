import { createOutboundHostCheck, nonPublicHostMessage } from "../outbound-host.js";
import { MAX_URL_LENGTH } from "../url-length.js";

export type WebhookUrlCheck =
  | { ok: true; url: string }
  | { ok: false; code: "E_INVALID_WEBHOOK_URL" | "E_WEBHOOK_HOST_NOT_ALLOWED"; message: string };

/**
 * Checks a webhook target before it is accepted: an http(s) URL without a fragment, at
 * most MAX_URL_LENGTH characters, whose host createOutboundHostCheck does not refuse
 * unless it is allow-listed (WEBHOOK_ALLOWED_PRIVATE_HOSTS).
 *
 * Names are not resolved here (DNS answers change): the delivering agent checks every
 * address it connects to, so a public name that resolves to a private address is
 * refused at delivery time.
 */
export function createWebhookUrlCheck(allowedPrivateHosts: readonly string[]): (raw: string, field?: string) => WebhookUrlCheck {
  const refusedHost = createOutboundHostCheck(allowedPrivateHosts);
  return (raw, field = "url") => {
    const invalid = (message: string): WebhookUrlCheck => ({ ok: false, code: "E_INVALID_WEBHOOK_URL", message });
    if (raw.length > MAX_URL_LENGTH) return invalid(`"${field}" is longer than ${MAX_URL_LENGTH} characters`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return invalid(`"${field}" is not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return invalid(`"${field}" must be an http:// or https:// URL, got ${url.protocol}`);
    if (url.hash !== "") return invalid(`"${field}" must not have a #fragment`);
    const host = refusedHost(url);
    if (host !== null) return { ok: false, code: "E_WEBHOOK_HOST_NOT_ALLOWED", message: nonPublicHostMessage(field, host, "WEBHOOK_ALLOWED_PRIVATE_HOSTS") };
    return { ok: true, url: url.href };
  };
}
