import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import type { Authenticator } from "@veriflow/auth";
import { presentedApiKey, type HeaderReader } from "@veriflow/http";

/**
 * Who a request counts against: its API key (and that key's tenant, whose limits apply)
 * when it presents a valid one, else its client address.
 */
export interface Identity {
  tenant?: string;
  /** A stable id of the API key, never the key itself (it names KV entries and log fields). */
  keyId?: string;
  /** The client address: an IPv4 address, or the /64 an IPv6 address belongs to. */
  ip: string;
}

/** Finds the identity of a request from its headers (HTTP) or metadata (gRPC) and its client address (as clientAddress gives it). */
export type Identify = (header: HeaderReader, ip: string) => Identity | Promise<Identity>;

/**
 * Identities from the keys the authenticator knows (its cache: no query on the hot path for
 * a key seen before): a valid key counts against itself, with its tenant's limits; a
 * bootstrap key (API_KEYS, no stored id) by the first 16 hex digits of its SHA-256. A missing,
 * unknown or revoked key counts as no key (the client address), so a client cannot mint fresh
 * budgets by sending made-up keys.
 */
export function identifyByKey(authenticator: Pick<Authenticator, "authenticate">): Identify {
  return async (header, ip) => {
    const key = presentedApiKey(header);
    if (key === undefined) return { ip };
    const principal = await authenticator.authenticate(key).catch(() => null);
    if (principal === null) return { ip };
    return { tenant: principal.tenant, keyId: principal.keyId ?? sha256(key).slice(0, 16), ip };
  };
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * The address a client is counted by: IPv4 as is (also when IPv4-mapped, `::ffff:a.b.c.d`),
 * IPv6 by its /64 (one subscriber usually holds a whole /64, and would otherwise have
 * 2^64 budgets), anything else "unknown".
 */
export function clientAddress(raw: string | undefined): string {
  const address = (raw ?? "").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "").replace(/%.*$/, "");
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return "unknown";
  const groups = ipv6Groups(address).slice(0, 4).map((g) => g.toString(16));
  return `${groups.join(":")}::/64`;
}

/** A gRPC peer (`host:port`, IPv6 hosts unbracketed, as grpc-js's getPeer gives it) as its host. */
export function peerHost(peer: string): string {
  return peer.replace(/^\[?(.*?)\]?:\d+$/, "$1");
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, an IPv4 tail as two groups). */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => {
          if (!g.includes(".")) return [parseInt(g, 16)];
          const [a, b, c, d] = g.split(".").map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head, tail] = address.split("::") as [string, string | undefined];
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}
