import { isIP } from "node:net";
import { isPublicAddress } from "./manifest/ip-address.js";
import { createHostAllowList } from "./manifest/safe-http.js";

/**
 * Whether a URL a client gives us to call (a job's manifestURI, rpcUrl or callbackUrl, a
 * webhook subscription's url) names a host we refuse before anything connects: an address
 * literal that is not globally routable unicast (loopback, private, CGNAT, link-local and
 * the cloud metadata addresses 169.254.169.254 and fd00:ec2::254, unspecified, multicast,
 * reserved, and the IPv6 forms that embed such an IPv4 address), or `localhost` and
 * `*.localhost` (RFC 6761: always loopback). Hosts in `allowedPrivateHosts` (entries as
 * in ALLOWED_PRIVATE_HOSTS: "name", "ip", "name:port", "[v6]:port") are exempt.
 *
 * The URL is read as WHATWG `new URL()` parses it, which is also how it is later fetched:
 * `http://2130706433/`, `http://0x7f.1/` and `http://0177.0.0.1/` are all 127.0.0.1 by then,
 * and a zone id (`[fe80::1%25eth0]`) is not a valid URL at all. Other names are not resolved
 * here (answers change): the guarded agent checks every address it connects to.
 *
 * Returns the refused host as the URL names it, or null when the host may be called.
 */
export function createOutboundHostCheck(allowedPrivateHosts: readonly string[]): (url: URL) => string | null {
  const isAllowed = createHostAllowList(allowedPrivateHosts);
  return (url) => {
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const name = host.toLowerCase().replace(/\.$/, "");
    const refused = isIP(host) !== 0 ? !isPublicAddress(host) : name === "" || name === "localhost" || name.endsWith(".localhost");
    if (!refused) return null;
    const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
    return isAllowed(host, port) ? null : host;
  };
}

/** The sentence every refusal of a non-public host uses (the host is what the client wrote, canonicalised). */
export function nonPublicHostMessage(field: string, host: string, allowSetting: string): string {
  return `"${field}" names ${host}, which is not a public address (loopback, private, link-local, metadata, multicast and other reserved addresses are refused; an operator can allow a host with ${allowSetting})`;
}
