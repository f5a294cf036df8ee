import { createHash } from "node:crypto";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";

/**
 * Builds UnixFS DAGs the way kubo's `ipfs add` does (balanced layout, fixed-size chunks),
 * for test fixtures and the local dev stack. Blocks land in the given store, keyed by CID.
 */

export interface UnixfsFileOptions {
  /** Leaves as raw blocks (CIDv1, like `ipfs add --raw-leaves`) instead of dag-pb nodes. */
  rawLeaves?: boolean;
  /** Chunk size in bytes (default 262144, as kubo). */
  chunkSize?: number;
  /** Links per intermediate node (default 174, as kubo). */
  maxChildren?: number;
  /** CID version of dag-pb nodes (default 0, or 1 with rawLeaves). */
  cidVersion?: 0 | 1;
}

/** Blocks keyed by blockKey(cid): the multihash, so CIDv0 and CIDv1 of one block meet. */
export type BlockStore = Map<string, Uint8Array>;

export function blockKey(cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString("base64url");
}

const RAW = 0x55;

export function putBlock(store: BlockStore, code: number, bytes: Uint8Array, version: 0 | 1 = 1): CID {
  const digest = Digest.create(0x12, createHash("sha256").update(bytes).digest());
  const cid: CID = version === 0 ? CID.createV0(digest) : CID.createV1(code, digest);
  store.set(blockKey(cid), bytes);
  return cid;
}

interface Built {
  cid: CID;
  /** File bytes under this node. */
  size: number;
  /** Encoded size of the subtree (dag-pb Tsize). */
  tsize: number;
}

/** Adds a file; returns its root CID. */
export function addUnixfsFile(store: BlockStore, content: Uint8Array, opts: UnixfsFileOptions = {}): CID {
  const chunkSize = opts.chunkSize ?? 262_144;
  const maxChildren = opts.maxChildren ?? 174;
  const rawLeaves = opts.rawLeaves ?? false;
  const version = opts.cidVersion ?? (rawLeaves ? 1 : 0);
  const pbNode = (unixfs: UnixFS, links: dagPb.PBLink[]) => {
    const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: links }));
    return { cid: putBlock(store, dagPb.code, bytes, version), encoded: bytes.length };
  };

  let level: Built[] = [];
  for (let offset = 0; offset < content.length || level.length === 0; offset += chunkSize) {
    const chunk = content.subarray(offset, offset + chunkSize);
    if (rawLeaves) {
      level.push({ cid: putBlock(store, RAW, chunk), size: chunk.length, tsize: chunk.length });
    } else {
      const { cid, encoded } = pbNode(new UnixFS({ type: "file", data: chunk }), []);
      level.push({ cid, size: chunk.length, tsize: encoded });
    }
  }
  while (level.length > 1) {
    const next: Built[] = [];
    for (let i = 0; i < level.length; i += maxChildren) {
      const children = level.slice(i, i + maxChildren);
      const unixfs = new UnixFS({ type: "file" });
      for (const c of children) unixfs.addBlockSize(BigInt(c.size));
      const { cid, encoded } = pbNode(
        unixfs,
        children.map((c) => ({ Hash: c.cid, Name: "", Tsize: c.tsize })),
      );
      next.push({
        cid,
        size: children.reduce((n, c) => n + c.size, 0),
        tsize: encoded + children.reduce((n, c) => n + c.tsize, 0),
      });
    }
    level = next;
  }
  return level[0]!.cid;
}

/** Adds a plain UnixFS directory of the given entries (name → CID); returns its CID. */
export function addUnixfsDirectory(store: BlockStore, entries: Record<string, CID>, version: 0 | 1 = 1): CID {
  const links = Object.entries(entries)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([Name, Hash]) => ({ Name, Hash, Tsize: store.get(blockKey(Hash))?.length ?? 0 }));
  const bytes = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: "directory" }).marshal(), Links: links }));
  return putBlock(store, dagPb.code, bytes, version);
}
