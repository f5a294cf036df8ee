import type { PackageDefinition } from "@grpc/proto-loader";
import { hostileNumber, hostileString, hostileUrl } from "./hostile-values.js";
import type { Random } from "./random.js";

/**
 * Random protobuf messages of a given type, encoded by hand from the descriptors that
 * proto-loader keeps in a package definition: every field of its declared wire type, with
 * values no client library would choose (negative int32s as ten-byte varints, uint64 and
 * int64 extremes, enum numbers nobody declared, timestamps past year 9999, strings of any
 * kind), repeated singular fields, unknown fields. Structurally valid: a server's decoder
 * takes them; what it makes of the values is the test.
 */

interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}

interface MessageDescriptor {
  field: FieldDescriptor[];
}

interface EnumDescriptor {
  value: { name: string; number: number }[];
}

/** Values that name things that exist, by field name (jobId, seq…), so some calls get past the lookups. */
export interface FieldHints {
  strings: Record<string, string[]>;
  /** The manifest server's base URL: URL fields point there or nowhere public. */
  manifestsUrl: string;
}

export function createMessageEncoder(definition: PackageDefinition, hints: FieldHints) {
  const lookup = (typeName: string, from: string) => {
    const pkg = from.slice(0, from.lastIndexOf("."));
    const def = (definition[`${pkg}.${typeName}`] ?? definition[typeName]) as { type?: unknown } | undefined;
    if (!def?.type) throw new Error(`no descriptor for ${typeName} (from ${from})`);
    return { fullName: definition[`${pkg}.${typeName}`] ? `${pkg}.${typeName}` : typeName, type: def.type };
  };

  const encode = (r: Random, fullName: string, depth: number): Buffer => {
    const { field } = (definition[fullName] as unknown as { type: MessageDescriptor }).type;
    const out: Buffer[] = [];
    for (const f of field) {
      if (r.chance(0.35)) continue; // absent: its default
      const times = f.label === "LABEL_REPEATED" ? r.int(4) : r.chance(0.05) ? 2 : 1; // a singular field twice: the last wins
      for (let i = 0; i < times; i++) out.push(encodeField(r, f, fullName, depth));
    }
    if (r.chance(0.1)) out.push(unknownField(r));
    return Buffer.concat(r.chance(0.1) ? out.reverse() : out);
  };

  const encodeField = (r: Random, f: FieldDescriptor, owner: string, depth: number): Buffer => {
    switch (f.type) {
      case "TYPE_STRING":
        return lengthDelimited(f.number, Buffer.from(stringFor(r, f.name, hints), "utf8"));
      case "TYPE_BYTES":
        return lengthDelimited(f.number, r.bytes(r.chance(0.95) ? r.int(2048) : r.between(64 * 1024, 1024 * 1024)));
      case "TYPE_BOOL":
        return varintField(f.number, r.pick([0n, 1n, 2n, 2n ** 63n]));
      case "TYPE_ENUM": {
        const declared = (lookup(f.typeName, owner).type as EnumDescriptor).value.map((v) => BigInt(v.number));
        return varintField(f.number, r.chance(0.6) ? r.pick(declared) : twos(BigInt(r.pick([-1, 99, 2 ** 31 - 1, -(2 ** 31)]))));
      }
      case "TYPE_MESSAGE": {
        const { fullName } = lookup(f.typeName, owner);
        if (fullName === "google.protobuf.Timestamp") return lengthDelimited(f.number, timestamp(r));
        return lengthDelimited(f.number, depth > 4 ? Buffer.alloc(0) : encode(r, fullName, depth + 1));
      }
      case "TYPE_INT32":
      case "TYPE_INT64":
      case "TYPE_UINT32":
      case "TYPE_UINT64":
        return varintField(f.number, integerFor(r, f.type, f.name, hints));
      case "TYPE_SINT32":
      case "TYPE_SINT64":
        return varintField(f.number, zigzag(BigInt(Math.trunc(hostileNumber(r) % 2 ** 31))));
      case "TYPE_DOUBLE":
      case "TYPE_FIXED64":
      case "TYPE_SFIXED64":
        return Buffer.concat([tag(f.number, 1), r.bytes(8)]);
      case "TYPE_FLOAT":
      case "TYPE_FIXED32":
      case "TYPE_SFIXED32":
        return Buffer.concat([tag(f.number, 5), r.bytes(4)]);
      default:
        throw new Error(`field ${f.name}: type ${f.type} not covered`);
    }
  };

  return {
    /** One message of `fullName` (e.g. "veriflow.v1.ListJobsRequest"). */
    encode: (r: Random, fullName: string) => encode(r, fullName, 0),
  };
}

function stringFor(r: Random, name: string, hints: FieldHints): string {
  const known = hints.strings[name];
  if (known && r.chance(0.3)) return r.pick(known);
  if (/ur[il]$/i.test(name)) return hostileUrl(r, hints.manifestsUrl);
  return hostileString(r, r.chance(0.95) ? 500 : 20_000);
}

function integerFor(r: Random, type: string, name: string, hints: FieldHints): bigint {
  const known = hints.strings[name];
  if (known && r.chance(0.3)) return BigInt(r.pick(known));
  const wide = type.endsWith("64");
  const signed = type === "TYPE_INT32" || type === "TYPE_INT64";
  const picks = [0n, 1n, 20n, 100n, 101n, 2n ** 31n - 1n, 2n ** 32n - 1n, BigInt(r.int(1e6))];
  if (wide) picks.push(2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 64n - 1n);
  if (signed) picks.push(-1n, -(2n ** 31n), ...(wide ? [-(2n ** 63n)] : []));
  return twos(r.pick(picks));
}

/** A Timestamp: seconds from far before year 1 to far past 9999, nanos in and out of [0, 1e9). */
function timestamp(r: Random): Buffer {
  const seconds = r.pick([0n, 1n, -1n, 253402300800n, -62135596801n, 2n ** 62n, -(2n ** 63n), BigInt(Math.floor(Date.now() / 1000)), BigInt(r.int(2 ** 31))]);
  const nanos = r.pick([0n, 999_999_999n, 1_000_000_000n, -1n, 2n ** 31n - 1n]);
  return Buffer.concat([varintField(1, twos(seconds)), varintField(2, twos(nanos))]);
}

function unknownField(r: Random): Buffer {
  const number = r.between(100, 2 ** 29 - 1);
  return r.chance(0.5) ? varintField(number, BigInt(r.int(1e9))) : lengthDelimited(number, r.bytes(r.int(64)));
}

/** A negative value as protobuf writes int32 and int64: its 64-bit two's complement. */
const twos = (n: bigint) => (n < 0n ? (1n << 64n) + n : n);
const zigzag = (n: bigint) => (n < 0n ? -2n * n - 1n : 2n * n);

function varint(n: bigint): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return Buffer.from(bytes);
}

const tag = (number: number, wireType: number) => varint((BigInt(number) << 3n) | BigInt(wireType));
const varintField = (number: number, n: bigint) => Buffer.concat([tag(number, 0), varint(n)]);
const lengthDelimited = (number: number, bytes: Buffer) => Buffer.concat([tag(number, 2), varint(BigInt(bytes.length)), bytes]);
