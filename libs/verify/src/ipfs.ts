import { createHash } from "node:crypto";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import type { MultibaseDecoder } from "multiformats/bases/interface";
import { bases } from "multiformats/basics";
import { equals } from "multiformats/bytes";
import { CID } from "multiformats/cid";
import { PermanentError } from "@veriflow/errors";

/**
 * Trustless IPFS reads: blocks come from an untrusted source (`fetchBlock`, e.g. a
 * gateway's `?format=raw` endpoint) and each one is checked against its CID before any
 * of it is used. Supported: codecs raw and dag-pb, UnixFS files (inline data, multi-block
 * files walked in link order) and plain UnixFS directories for path segments;
 * sha2-256 (full 32-byte digests) and identity multihashes.
 */

export const RAW_CODE = 0x55;
export const DAG_PB_CODE = 0x70;
const SHA2_256 = 0x12;
const IDENTITY = 0x00;

export type FetchBlock = (cid: CID) => Promise<Uint8Array>;

export interface ResolveIpfsOptions {
  /** Largest file accepted; assembling stops with E_MANIFEST_TOO_LARGE past it. */
  maxBytes: number;
  /** Most blocks visited in one resolution (default 1024). */
  maxBlocks?: number;
  /** Child blocks fetched at once while walking a file (default 8). */
  concurrency?: number;
}

/** Decodes a multibase string in any base multiformats knows (CID.parse alone knows three). */
const anyBase: MultibaseDecoder<string> = {
  decode(multibase) {
    const codec = Object.values(bases).find((b) => multibase.startsWith(b.prefix));
    if (!codec) throw new Error("unknown multibase prefix");
    return codec.decoder.decode(multibase);
  },
};

/** Parses `ipfs://<cid>[/path…]` (CIDv0 or CIDv1 in any multibase). */
export function parseIpfsUri(uri: string): { cid: CID; path: string[] } {
  const bad = (why: string) => new PermanentError("E_MANIFEST_URI_INVALID", `invalid IPFS URI ${JSON.stringify(uri)}: ${why}`);
  if (!/^ipfs:\/\//i.test(uri)) throw bad("expected ipfs://<cid>[/path]");
  const rest = uri.slice("ipfs://".length);
  if (/[?#\s]/.test(rest)) throw bad("query strings, fragments and spaces are not supported");
  const [first = "", ...segments] = rest.split("/");
  let cid: CID;
  try {
    cid = CID.parse(first, anyBase);
  } catch {
    throw bad(`${JSON.stringify(first)} is not a CID`);
  }
  const path: string[] = [];
  for (const raw of segments) {
    if (raw === "") continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw bad(`bad percent-encoding in ${JSON.stringify(raw)}`);
    }
    if (segment === "." || segment === "..") throw bad("'.' and '..' path segments are not allowed");
    path.push(segment);
  }
  return { cid, path };
}

/**
 * Checks that `bytes` are the block named by `cid`; throws PermanentError("E_CID_MISMATCH")
 * otherwise, or E_IPFS_UNSUPPORTED for a hash function other than sha2-256 / identity.
 */
export function verifyBlock(cid: CID, bytes: Uint8Array): void {
  const mh = cid.multihash;
  let ok: boolean;
  if (mh.code === SHA2_256) {
    if (mh.size !== 32) throw unsupported(`CID ${cid} uses a truncated sha2-256 digest`);
    ok = equals(createHash("sha256").update(bytes).digest(), mh.digest);
  } else if (mh.code === IDENTITY) {
    ok = equals(bytes, mh.digest);
  } else {
    throw unsupported(`CID ${cid} uses hash function 0x${mh.code.toString(16)}; only sha2-256 and identity are supported`);
  }
  if (!ok) throw new PermanentError("E_CID_MISMATCH", `block ${cid} does not match its CID (substituted or corrupted content)`);
}

/** Resolves `cid` and `path` to the bytes of a UnixFS file (or raw block), verifying every block. */
export async function resolveIpfs(
  cid: CID,
  path: readonly string[],
  fetchBlock: FetchBlock,
  opts: ResolveIpfsOptions,
): Promise<Uint8Array> {
  const walker = new Walker(fetchBlock, opts);
  let current = cid;
  for (const [i, segment] of path.entries()) {
    const node = await walker.load(current);
    const here = `/${path.slice(0, i).join("/")}`;
    if (node.kind === "pb" && node.unixfs.type === "hamt-sharded-directory") {
      throw unsupported(`${here} of ${cid} is a HAMT-sharded directory, which is not supported`);
    }
    if (node.kind === "raw" || node.unixfs.type !== "directory") {
      throw notFound(`${here} of ${cid} is not a directory, so it has no ${JSON.stringify(segment)}`);
    }
    const link = node.pb.Links.find((l) => l.Name === segment);
    if (!link) throw notFound(`${cid}${here === "/" ? "" : here} has no entry ${JSON.stringify(segment)}`);
    current = link.Hash;
  }
  return walker.readFile(current);
}

type Node = { kind: "raw"; bytes: Uint8Array } | { kind: "pb"; pb: dagPb.PBNode; unixfs: UnixFS };

class Walker {
  private blocks = 0;
  private readonly chunks: Uint8Array[] = [];
  private total = 0;
  private readonly maxBlocks: number;
  private readonly concurrency: number;

  constructor(
    private readonly fetchBlock: FetchBlock,
    private readonly opts: ResolveIpfsOptions,
  ) {
    this.maxBlocks = opts.maxBlocks ?? 1024;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
  }

  async load(cid: CID): Promise<Node> {
    if (cid.code !== RAW_CODE && cid.code !== DAG_PB_CODE) {
      throw unsupported(`CID ${cid} has codec 0x${cid.code.toString(16)}; only raw and dag-pb are supported`);
    }
    if (++this.blocks > this.maxBlocks) {
      throw new PermanentError("E_MANIFEST_TOO_LARGE", `IPFS content spans more than ${this.maxBlocks} blocks`);
    }
    const bytes = cid.multihash.code === IDENTITY ? cid.multihash.digest : await this.fetchBlock(cid);
    verifyBlock(cid, bytes);
    if (cid.code === RAW_CODE) return { kind: "raw", bytes };
    try {
      const pb = dagPb.decode(bytes);
      if (pb.Data === undefined) throw new Error("dag-pb node without UnixFS data");
      return { kind: "pb", pb, unixfs: UnixFS.unmarshal(pb.Data) };
    } catch (err) {
      throw new PermanentError("E_IPFS_INVALID_DAG", `block ${cid} is not a UnixFS dag-pb node: ${message(err)}`, { cause: err });
    }
  }

  async readFile(cid: CID): Promise<Uint8Array> {
    const root = await this.load(cid);
    if (root.kind === "pb") {
      const type = root.unixfs.type;
      if (type === "directory" || type === "hamt-sharded-directory") {
        throw new PermanentError("E_IPFS_NOT_A_FILE", `${cid} is a directory; name the file in the URI (ipfs://<cid>/<file>)`);
      }
      if (root.unixfs.fileSize() > BigInt(this.opts.maxBytes)) throw this.tooLarge();
    }
    await this.walk(cid, root);
    return concat(this.chunks, this.total);
  }

  private async walk(cid: CID, node: Node): Promise<void> {
    if (node.kind === "raw") return this.push(node.bytes);
    const type = node.unixfs.type;
    if (type !== "file" && type !== "raw") {
      throw unsupported(`${cid} is a UnixFS ${type} node where file data was expected`);
    }
    if (node.unixfs.data) this.push(node.unixfs.data);
    const links = node.pb.Links;
    // Fetch the children a few at a time, then walk them strictly in link order.
    for (let i = 0; i < links.length; i += this.concurrency) {
      const batch = links.slice(i, i + this.concurrency);
      const children = await Promise.all(batch.map((l) => this.load(l.Hash)));
      for (const [j, child] of children.entries()) await this.walk(batch[j]!.Hash, child);
    }
  }

  private push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.total += bytes.length;
    if (this.total > this.opts.maxBytes) throw this.tooLarge();
    this.chunks.push(bytes);
  }

  private tooLarge(): PermanentError {
    return new PermanentError("E_MANIFEST_TOO_LARGE", `IPFS content is larger than ${this.opts.maxBytes} bytes`);
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

const unsupported = (msg: string) => new PermanentError("E_IPFS_UNSUPPORTED", msg);
const notFound = (msg: string) => new PermanentError("E_IPFS_PATH_NOT_FOUND", msg);
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
