import { createHash, randomBytes } from "node:crypto";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { base64 } from "multiformats/bases/base64";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { describe, expect, it } from "vitest";
import { PermanentError } from "@veriflow/errors";
import { parseIpfsUri, resolveIpfs } from "./ipfs.js";

/** A tiny block store with builders for UnixFS DAGs, independent of the code under test. */
function createStore() {
  const blocks = new Map<string, Uint8Array>();
  const fetched: string[] = [];
  const put = (code: number, bytes: Uint8Array, version: 0 | 1 = 1) => {
    const digest = Digest.create(0x12, createHash("sha256").update(bytes).digest());
    const cid = version === 0 ? CID.createV0(digest) : CID.createV1(code, digest);
    blocks.set(cid.toString(), bytes);
    return cid as CID;
  };
  const pbNode = (unixfs: UnixFS, links: dagPb.PBLink[] = [], version: 0 | 1 = 0) =>
    put(dagPb.code, dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: links })), version);
  return {
    blocks,
    fetched,
    raw: (bytes: Uint8Array) => put(0x55, bytes),
    fileNode: (data: Uint8Array, version: 0 | 1 = 0) => pbNode(new UnixFS({ type: "file", data }), [], version),
    /** A file whose content is the concatenation of the given leaves (CID + size). */
    fileOf: (leaves: Array<{ cid: CID; size: number }>, data?: Uint8Array) => {
      const unixfs = new UnixFS({ type: "file", ...(data ? { data } : {}) });
      for (const l of leaves) unixfs.addBlockSize(BigInt(l.size));
      return pbNode(unixfs, leaves.map((l) => ({ Hash: l.cid, Name: "", Tsize: l.size })));
    },
    dir: (entries: Record<string, CID>, type: "directory" | "hamt-sharded-directory" = "directory") =>
      pbNode(
        new UnixFS({ type }),
        Object.entries(entries).map(([Name, Hash]) => ({ Name, Hash, Tsize: 0 })),
      ),
    fetch: async (cid: CID) => {
      fetched.push(cid.toString());
      const bytes = blocks.get(cid.toString());
      if (!bytes) throw new Error(`no block ${cid}`);
      return bytes;
    },
  };
}

const text = (s: string) => new TextEncoder().encode(s);
const opts = { maxBytes: 1 << 20 };

async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PermanentError);
  return (err as PermanentError).code;
}

describe("parseIpfsUri", () => {
  it("parses CIDv0 and CIDv1 (any multibase) with a path", () => {
    const v0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
    expect(parseIpfsUri(`ipfs://${v0}`)).toMatchObject({ path: [] });
    expect(parseIpfsUri(`ipfs://${v0}`).cid.toString()).toBe(v0);
    const v1 = CID.parse(v0).toV1();
    const parsed = parseIpfsUri(`ipfs://${v1.toString(base64)}/a/b%20c.json/`);
    expect(parsed.cid.equals(v1)).toBe(true);
    expect(parsed.path).toEqual(["a", "b c.json"]);
  });

  it.each(["ipfs://", "ipfs://not-a-cid", "https://ipfs.io/ipfs/Qm", "ipfs://QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o/../x", "ipfs://QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o?x=1", "ipfs://bafy%zz"])(
    "rejects %s",
    (uri) => {
      expect(() => parseIpfsUri(uri)).toThrow(expect.objectContaining({ code: "E_MANIFEST_URI_INVALID" }));
    },
  );
});

describe("resolveIpfs", () => {
  it("reads a raw leaf", async () => {
    const s = createStore();
    const body = text('{"raw":true}');
    const cid = s.raw(body);
    expect(await resolveIpfs(cid, [], s.fetch, opts)).toEqual(body);
  });

  it("reads a single dag-pb block with inline data (the CID kubo gives)", async () => {
    const s = createStore();
    const cid = s.fileNode(text("hello world\n"));
    expect(cid.toString()).toBe("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
    expect(new TextDecoder().decode(await resolveIpfs(cid, [], s.fetch, opts))).toBe("hello world\n");
  });

  it("reads a multi-block file in link order, across two levels and mixed leaves", async () => {
    const s = createStore();
    const content = randomBytes(10_000);
    const chunks = [0, 1000, 2500, 4000, 7000, 10_000];
    const leaves = chunks.slice(0, -1).map((start, i) => {
      const bytes = content.subarray(start, chunks[i + 1]);
      return { cid: i % 2 ? s.raw(bytes) : s.fileNode(bytes), size: bytes.length };
    });
    const inner = { cid: s.fileOf(leaves.slice(1, 4)), size: chunks[4]! - chunks[1]! };
    const root = s.fileOf([leaves[0]!, inner, leaves[4]!]);
    const out = await resolveIpfs(root, [], s.fetch, { maxBytes: 10_000, concurrency: 2 });
    expect(Buffer.from(out).equals(content)).toBe(true);
    expect(s.fetched).toHaveLength(7);
  });

  it("puts a node's own data before its children", async () => {
    const s = createStore();
    const leaf = s.raw(text("world"));
    const root = s.fileOf([{ cid: leaf, size: 5 }], text("hello "));
    expect(new TextDecoder().decode(await resolveIpfs(root, [], s.fetch, opts))).toBe("hello world");
  });

  it("follows path segments through plain directories", async () => {
    const s = createStore();
    const manifest = s.raw(text('{"m":1}'));
    const sub = s.dir({ "manifest.json": manifest, "other.json": s.raw(text("x")) });
    const root = s.dir({ v1: sub, "readme.txt": s.fileNode(text("hi")) });
    expect(new TextDecoder().decode(await resolveIpfs(root, ["v1", "manifest.json"], s.fetch, opts))).toBe('{"m":1}');
    expect(await code(resolveIpfs(root, ["v1", "missing.json"], s.fetch, opts))).toBe("E_IPFS_PATH_NOT_FOUND");
    expect(await code(resolveIpfs(root, ["readme.txt", "x"], s.fetch, opts))).toBe("E_IPFS_PATH_NOT_FOUND");
    expect(await code(resolveIpfs(root, ["v1"], s.fetch, opts))).toBe("E_IPFS_NOT_A_FILE");
  });

  it("refuses HAMT-sharded directories", async () => {
    const s = createStore();
    const shard = s.dir({ "00manifest.json": s.raw(text("{}")) }, "hamt-sharded-directory");
    expect(await code(resolveIpfs(shard, ["manifest.json"], s.fetch, opts))).toBe("E_IPFS_UNSUPPORTED");
  });

  it("rejects a tampered block with E_CID_MISMATCH, before using any of it", async () => {
    const s = createStore();
    const cid = s.fileNode(text('{"signed":"by the creator"}'));
    s.blocks.set(cid.toString(), dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: "file", data: text('{"signed":"by mallory"}') }).marshal(), Links: [] })));
    expect(await code(resolveIpfs(cid, [], s.fetch, opts))).toBe("E_CID_MISMATCH");
  });

  it("rejects a tampered leaf deep inside a file", async () => {
    const s = createStore();
    const a = s.raw(text("aaaa"));
    const b = s.raw(text("bbbb"));
    const root = s.fileOf([
      { cid: a, size: 4 },
      { cid: b, size: 4 },
    ]);
    s.blocks.set(b.toString(), text("BBBB"));
    expect(await code(resolveIpfs(root, [], s.fetch, opts))).toBe("E_CID_MISMATCH");
  });

  it("reads identity CIDs without fetching", async () => {
    const s = createStore();
    const cid = CID.createV1(0x55, Digest.create(0x00, text("inline")));
    expect(new TextDecoder().decode(await resolveIpfs(cid, [], s.fetch, opts))).toBe("inline");
    expect(s.fetched).toEqual([]);
  });

  it("enforces maxBytes from the declared size and while assembling", async () => {
    const s = createStore();
    expect(await code(resolveIpfs(s.raw(new Uint8Array(101)), [], s.fetch, { maxBytes: 100 }))).toBe("E_MANIFEST_TOO_LARGE");
    const leaves = [s.raw(new Uint8Array(60)), s.raw(new Uint8Array(61).fill(1))].map((cid, i) => ({ cid, size: 60 + i }));
    const root = s.fileOf(leaves);
    expect(await code(resolveIpfs(root, [], s.fetch, { maxBytes: 100 }))).toBe("E_MANIFEST_TOO_LARGE");
    expect(s.fetched).toEqual([s.raw(new Uint8Array(101)).toString(), root.toString()]); // leaves never fetched
    // A DAG that understates its size is caught while assembling.
    const liar = s.fileOf(leaves.map((l) => ({ ...l, size: 1 })));
    expect(await code(resolveIpfs(liar, [], s.fetch, { maxBytes: 100 }))).toBe("E_MANIFEST_TOO_LARGE");
  });

  it("refuses unsupported codecs and hash functions", async () => {
    const s = createStore();
    const cbor = CID.createV1(0x71, Digest.create(0x12, createHash("sha256").update("x").digest()));
    expect(await code(resolveIpfs(cbor, [], s.fetch, opts))).toBe("E_IPFS_UNSUPPORTED");
    const blake = CID.createV1(0x55, Digest.create(0xb220, new Uint8Array(32)));
    s.blocks.set(blake.toString(), new Uint8Array(1));
    expect(await code(resolveIpfs(blake, [], s.fetch, opts))).toBe("E_IPFS_UNSUPPORTED");
  });

  it("caps the number of blocks visited", async () => {
    const s = createStore();
    const leaf = { cid: s.raw(text("x")), size: 1 };
    const root = s.fileOf(Array.from({ length: 20 }, () => leaf));
    expect(new TextDecoder().decode(await resolveIpfs(root, [], s.fetch, opts))).toBe("x".repeat(20));
    expect(await code(resolveIpfs(root, [], s.fetch, { ...opts, maxBlocks: 10 }))).toBe("E_MANIFEST_TOO_LARGE");
  });
});
