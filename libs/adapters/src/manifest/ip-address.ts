import { isIP, isIPv4 } from "node:net";

/**
 * Which IP addresses a manifest fetch may reach: only globally routable unicast ones.
 * Refused: unspecified, loopback, private (RFC 1918), carrier-grade NAT, link-local,
 * unique-local, site-local, multicast, broadcast/reserved, documentation and benchmark
 * ranges, and IPv6 forms that embed a refused IPv4 address (mapped, compatible, NAT64, 6to4).
 */

type Range = readonly [bytes: readonly number[], bits: number];

const V4_REFUSED: Range[] = [
  [[0], 8], // "this network", unspecified
  [[10], 8],
  [[100, 64], 10], // carrier-grade NAT
  [[127], 8],
  [[169, 254], 16],
  [[172, 16], 12],
  [[192, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2], 24], // TEST-NET-1
  [[192, 88, 99], 24], // 6to4 relay anycast
  [[192, 168], 16],
  [[198, 18], 15], // benchmarking
  [[198, 51, 100], 24], // TEST-NET-2
  [[203, 0, 113], 24], // TEST-NET-3
  [[224], 4], // multicast
  [[240], 4], // reserved, broadcast
];

const V6_REFUSED: Range[] = [
  [[0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48], // local-use NAT64
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64], // discard-only
  [[0x20, 0x01, 0x00, 0x00], 32], // Teredo
  [[0x20, 0x01, 0x0d, 0xb8], 32], // documentation
  [[0xfc], 7], // unique-local
  [[0xfe, 0x80], 10], // link-local
  [[0xfe, 0xc0], 10], // site-local (deprecated)
  [[0xff], 8], // multicast
];

/** True when `ip` (an IPv4 or IPv6 literal, zone id allowed) is globally routable unicast. */
export function isPublicAddress(ip: string): boolean {
  const bare = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  if (isIPv4(bare)) return v4Public(parseV4(bare));
  if (isIP(bare.split("%")[0]!) !== 6) return false; // not an address at all: refuse
  const b = parseV6(bare.split("%")[0]!);
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped)
  if (zeros(0, 10) && ((b[10] === 0 && b[11] === 0) || (b[10] === 0xff && b[11] === 0xff))) return v4Public(b.slice(12));
  // 64:ff9b::/96, NAT64 well-known prefix
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return v4Public(b.slice(12));
  // 2002::/16, 6to4
  if (b[0] === 0x20 && b[1] === 0x02) return v4Public(b.slice(2, 6));
  return !V6_REFUSED.some((r) => inRange(b, r));
}

function v4Public(b: number[]): boolean {
  return !V4_REFUSED.some((r) => inRange(b, r));
}

function inRange(addr: number[], [net, bits]: Range): boolean {
  for (let i = 0; i * 8 < bits; i++) {
    const take = Math.min(8, bits - i * 8);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((addr[i] ?? 0) & mask) !== ((net[i] ?? 0) & mask)) return false;
  }
  return true;
}

function parseV4(ip: string): number[] {
  return ip.split(".").map(Number);
}

/** 16 bytes of a valid IPv6 literal (validated by the caller with net.isIP). */
function parseV6(ip: string): number[] {
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail.push(...parseV4(text.slice(lastColon + 1)));
    text = text.slice(0, lastColon + 1) + "0:0"; // placeholder groups, replaced below
  }
  const [head = "", rest] = text.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}
