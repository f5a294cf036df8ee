import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Cuts a request whose body arrives slower than `minBytesPerSecond` on average over a
 * window of `windowMs` (a slow-loris, or a link too slow to finish): `onTooSlow` answers it.
 * The clock runs only while the body is being received and the server is waiting for it:
 * a window in which the server itself was not reading (the request's buffer holds bytes,
 * e.g. while the uploads store applies backpressure) does not count against the client.
 */
export function watchUploadRate(req: IncomingMessage, res: ServerResponse, opts: { minBytesPerSecond: number; windowMs: number }, onTooSlow: () => void): void {
  if (opts.minBytesPerSecond <= 0 || !hasBody(req)) return;
  const needed = (opts.minBytesPerSecond * opts.windowMs) / 1000;
  // Bytes off the socket, not "data" events: a listener would start the body flowing
  // before the application is ready to read it.
  const socket = req.socket;
  let windowStart = socket.bytesRead;
  const timer = setInterval(() => {
    const inWindow = socket.bytesRead - windowStart;
    windowStart = socket.bytesRead;
    const serverBehind = req.readableLength > 0 || socket.isPaused();
    if (inWindow < needed && !serverBehind) {
      stop();
      onTooSlow();
    }
  }, opts.windowMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  req.once("end", stop);
  req.once("close", stop);
  res.once("finish", stop);
  res.once("close", stop);
}

function hasBody(req: IncomingMessage): boolean {
  const length = Number(req.headers["content-length"] ?? 0);
  return length > 0 || req.headers["transfer-encoding"] !== undefined;
}
