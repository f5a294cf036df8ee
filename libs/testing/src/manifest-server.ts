import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CID } from "multiformats/cid";
import { addUnixfsDirectory, addUnixfsFile, blockKey, type BlockStore, type UnixfsFileOptions } from "./ipfs-blocks.js";

/**
 * A real HTTP server for manifests, for integration tests and the local dev stack:
 *
 *   GET /manifests/<name>        a stored manifest (application/json)
 *   GET /redirects/<name>        a stored redirect (Location + status)
 *   GET /ipfs/<cid>?format=raw   a stored block, IPFS trustless-gateway style
 *                                (also with Accept: application/vnd.ipld.raw)
 *   GET /stall                   accepts the request and never answers
 *   GET /stall-body              sends headers and a first chunk, then never finishes
 *   GET /big?bytes=<n>           n bytes, chunked, without Content-Length
 *
 * and, for `veriflow dev publish`, two routes that add content (from loopback clients only):
 *
 *   PUT  /manifests/<name>       body = the manifest; answers 201 { uri } (its http URL)
 *   POST /ipfs                   body = the bytes; answers 201 { cid, uri } (like `ipfs add`)
 *
 * A development server: no authentication. It listens on 127.0.0.1 unless told otherwise, and
 * the write routes also refuse any client that is not on loopback.
 */
export interface ManifestServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Stores a manifest (object → JSON, string or bytes as-is); returns its http URL. */
  putManifest(name: string, doc: unknown): string;
  /** Adds content to the IPFS block store like `ipfs add`; returns the root CID and ipfs:// URI. */
  putIpfs(content: Uint8Array | string, opts?: UnixfsFileOptions): { cid: string; uri: string };
  /** Adds a directory tree ("a/b.json" nests); returns the directory CID (address files as ipfs://<cid>/<path>). */
  putIpfsDirectory(files: Record<string, Uint8Array | string>, opts?: UnixfsFileOptions): string;
  /** Stores a redirect to `location`; returns its http URL. */
  putRedirect(name: string, location: string, status?: number): string;
  /** While on, the block of `cid` is served with altered bytes. */
  tamper(cid: string, on?: boolean): void;
  /** The next `n` requests for `path` (a path or URL; query ignored) answer `status` (default 503). */
  failNext(path: string, n: number, status?: number): void;
  /** Requests received, in total or for one path. */
  requests(path?: string): number;
  stop(): Promise<void>;
}

export interface ManifestServerOptions {
  port?: number;
  host?: string;
}

export async function startManifestServer(opts: ManifestServerOptions = {}): Promise<ManifestServer> {
  const host = opts.host ?? "127.0.0.1";
  const manifests = new Map<string, Buffer>();
  const redirects = new Map<string, { location: string; status: number }>();
  const blocks: BlockStore = new Map();
  const tampered = new Set<string>();
  const failures = new Map<string, { left: number; status: number }>();
  const counts = new Map<string, number>();
  let total = 0;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    total++;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const failure = failures.get(path);
    if (failure && failure.left > 0) {
      failure.left--;
      return send(res, failure.status, "text/plain", `injected failure ${failure.status}\n`);
    }
    const [, route = "", ...rest] = path.split("/");
    // A path with a broken %-escape names nothing here: 400, never a thrown URIError (the fuzz
    // tests send such manifest URIs, and this server also backs `npm start`).
    let name: string;
    try {
      name = decodeURIComponent(rest.join("/"));
    } catch {
      return send(res, 400, "text/plain", "malformed %-escape in the path\n");
    }
    if (req.method === "PUT" && route === "manifests" && name !== "") return write(req, res, (body) => ({ uri: putManifest(name, body) }));
    if (req.method === "POST" && route === "ipfs" && name === "") return write(req, res, (body) => putIpfs(body));
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only (PUT /manifests/<name>, POST /ipfs to add content)\n");
    switch (route) {
      case "manifests": {
        const body = manifests.get(name);
        return body ? send(res, 200, "application/json", body) : send(res, 404, "text/plain", "no such manifest\n");
      }
      case "redirects": {
        const r = redirects.get(name);
        if (!r) return send(res, 404, "text/plain", "no such redirect\n");
        res.writeHead(r.status, { location: r.location, "content-length": 0 });
        return res.end();
      }
      case "ipfs":
        return serveBlock(url, req, res, name);
      case "stall":
        return; // never answered; stop() closes the socket
      case "stall-body":
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"version":');
        return;
      case "big": {
        const bytes = Number(url.searchParams.get("bytes") ?? 1_000_000);
        res.writeHead(200, { "content-type": "application/json" });
        const chunk = Buffer.alloc(16 * 1024, 0x20);
        for (let sent = 0; sent < bytes; sent += chunk.length) res.write(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
        return res.end();
      }
      default:
        return send(res, 404, "text/plain", "not found\n");
    }
  };

  const serveBlock = (url: URL, req: IncomingMessage, res: ServerResponse, cidText: string) => {
    const wantsRaw = url.searchParams.get("format") === "raw" || (req.headers.accept ?? "").includes("application/vnd.ipld.raw");
    if (!wantsRaw) return send(res, 406, "text/plain", "only raw blocks: add ?format=raw\n");
    let cid: CID;
    try {
      cid = CID.parse(cidText);
    } catch {
      return send(res, 400, "text/plain", "invalid CID\n");
    }
    const key = blockKey(cid);
    const stored = cid.multihash.code === 0 ? cid.multihash.digest : blocks.get(key);
    if (!stored) return send(res, 404, "text/plain", "block not found\n");
    let block = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    if (tampered.has(key)) {
      block = Buffer.from(block.length > 0 ? block : [0]);
      block[block.length - 1]! ^= 0x01;
    }
    return send(res, 200, "application/vnd.ipld.raw", block, { "x-ipfs-roots": cid.toString() });
  };

  /** Reads a bounded body from a loopback client, stores it, answers 201 with what `store` returns. */
  const write = (req: IncomingMessage, res: ServerResponse, store: (body: Buffer) => unknown) => {
    if (!isLoopback(req.socket.remoteAddress)) return send(res, 403, "text/plain", "content can only be added from this machine\n");
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_WRITE_BYTES) chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > MAX_WRITE_BYTES) return send(res, 413, "text/plain", `larger than ${MAX_WRITE_BYTES} bytes\n`);
      send(res, 201, "application/json", JSON.stringify(store(Buffer.concat(chunks))));
    });
  };

  const server = createServer(handle);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const pathOf = (p: string) => new URL(p, base).pathname;
  const bytesOf = (doc: unknown) =>
    doc instanceof Uint8Array ? Buffer.from(doc) : Buffer.from(typeof doc === "string" ? doc : JSON.stringify(doc));

  function putManifest(name: string, doc: unknown): string {
    manifests.set(name, bytesOf(doc));
    return `${base}/manifests/${name.split("/").map(encodeURIComponent).join("/")}`;
  }
  function putIpfs(content: Uint8Array | string, fileOpts?: UnixfsFileOptions): { cid: string; uri: string } {
    const cid = addUnixfsFile(blocks, bytesOf(content), fileOpts).toString();
    return { cid, uri: `ipfs://${cid}` };
  }

  return {
    url: base,
    port,
    putManifest,
    putIpfs,
    putIpfsDirectory(files, fileOpts) {
      type Tree = { [name: string]: Tree | CID };
      const tree: Tree = {};
      for (const [path, content] of Object.entries(files)) {
        const parts = path.split("/").filter((p) => p !== "");
        let node = tree;
        for (const dir of parts.slice(0, -1)) node = (node[dir] ??= {}) as Tree;
        node[parts[parts.length - 1]!] = addUnixfsFile(blocks, bytesOf(content), fileOpts);
      }
      const build = (t: Tree): CID =>
        addUnixfsDirectory(
          blocks,
          Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v instanceof CID ? v : build(v)])),
          fileOpts?.cidVersion ?? 1,
        );
      return build(tree).toString();
    },
    putRedirect(name, location, status = 302) {
      redirects.set(name, { location, status });
      return `${base}/redirects/${encodeURIComponent(name)}`;
    },
    tamper(cid, on = true) {
      const key = blockKey(CID.parse(cid));
      if (on) tampered.add(key);
      else tampered.delete(key);
    },
    failNext(path, n, status = 503) {
      failures.set(pathOf(path), { left: n, status });
    },
    requests(path) {
      return path === undefined ? total : (counts.get(pathOf(path)) ?? 0);
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Largest body the write routes take (manifests are small; this is a dev server). */
const MAX_WRITE_BYTES = 16 * 1024 * 1024;

/** Whether a request came from this machine (only such may add content). */
export const isLoopback = (address: string | undefined) =>
  address === "::1" || address?.startsWith("127.") === true || address?.startsWith("::ffff:127.") === true;

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { "content-type": type, "content-length": bytes.length, ...headers });
  res.end(res.req.method === "HEAD" ? undefined : bytes);
}
