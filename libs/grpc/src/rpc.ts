import * as grpc from "@grpc/grpc-js";
import { createApiKeyCheck } from "@veriflow/http";
import type { Logger } from "@veriflow/platform";
import { toGrpcStatus } from "./errors.js";
import { decoded, decodedMessages } from "./undecodable.js";

export interface RpcOptions {
  log: Logger;
  /** Accepted API keys (createApiKeyCheck, @veriflow/http: `x-api-key` or `authorization: Bearer` metadata); empty: open. */
  apiKeys: string[];
  /** Aborted when the server stops: open server streams end with UNAVAILABLE at once. */
  shutdownSignal?: AbortSignal;
  /** Rewrites an error before it is mapped (e.g. a database outage into E_DATABASE_UNAVAILABLE). */
  translateError?: (err: unknown) => unknown;
  /** Runs first on every call, before the API-key check (a rate limit): see Admit. */
  admit?: Admit;
}

/**
 * Decides whether a call may run at all: throws to refuse it (an HttpError, mapped like any
 * handler error); what it sets on `trailer` goes out with the answer, success or error.
 */
export type Admit = (call: { metadata: grpc.Metadata; method: string; peer: string }, trailer: grpc.Metadata) => Promise<void>;

/** What every handler gets besides its request: the call's metadata and an abort signal. */
export interface RpcContext {
  metadata: grpc.Metadata;
  /** Aborted when the client cancels, the deadline passes, or the connection drops. */
  signal: AbortSignal;
  /** The method, for logs: "/veriflow.v1.JobService/GetJob". */
  method: string;
  /** Trailing metadata sent with the answer, success or error. */
  trailer: grpc.Metadata;
}

/** What every server call has (grpc-js does not export the type by name). */
interface SurfaceCall {
  readonly metadata: grpc.Metadata;
  getPath(): string;
  getPeer(): string;
  once(event: "cancelled", listener: () => void): unknown;
}

/**
 * Wraps handlers written as async functions into grpc-js handlers: the API-key check,
 * an AbortSignal tied to the call's cancellation (client cancel, deadline), request messages
 * that did not decode refused as the client's error (undecodable.ts), and every thrown
 * error mapped to a gRPC status by toGrpcStatus.
 */
export function createRpc(opts: RpcOptions) {
  const checkApiKey = createApiKeyCheck(opts.apiKeys);
  const authenticate = (metadata: grpc.Metadata): void =>
    checkApiKey((key) => {
      const v = metadata.get(key)[0];
      return typeof v === "string" ? v : v?.toString("utf8");
    });

  const contextFor = (call: SurfaceCall): RpcContext & { controller: AbortController } => {
    const controller = new AbortController();
    call.once("cancelled", () => controller.abort(new Error("the call was cancelled")));
    return { metadata: call.metadata, signal: controller.signal, method: call.getPath(), trailer: new grpc.Metadata(), controller };
  };

  /** What runs before every handler: admission (before the key check, so refused keys are counted too), then the key. */
  const admitAndAuthenticate = async (call: SurfaceCall, ctx: RpcContext): Promise<void> => {
    if (opts.admit) await opts.admit({ metadata: call.metadata, method: ctx.method, peer: call.getPeer() }, ctx.trailer);
    authenticate(call.metadata);
  };

  const fail = (ctx: RpcContext, err: unknown): grpc.StatusObject => {
    const { status, internal } = toGrpcStatus(opts.translateError ? opts.translateError(err) : err);
    status.metadata?.merge(ctx.trailer);
    const fields = { err, method: ctx.method, code: grpc.status[status.code] };
    if (internal) opts.log.error(fields, "rpc failed");
    else opts.log.debug(fields, "rpc rejected");
    return status;
  };

  return {
    unary<Req, Res>(fn: (req: Req, ctx: RpcContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
      return (call, callback) => {
        const ctx = contextFor(call);
        void (async () => {
          await admitAndAuthenticate(call, ctx);
          return fn(decoded(call.request, ctx.method), ctx);
        })().then(
          (res) => {
            if (!ctx.signal.aborted) callback(null, res, ctx.trailer);
          },
          (err: unknown) => {
            if (!ctx.signal.aborted) callback(fail(ctx, err));
          },
        );
      };
    },

    /** `fn` writes with `call.write` and resolves when the stream should end. */
    serverStream<Req, Res>(
      fn: (req: Req, call: grpc.ServerWritableStream<Req, Res>, ctx: RpcContext) => Promise<void>,
    ): grpc.handleServerStreamingCall<Req, Res> {
      return (call) => {
        const ctx = contextFor(call);
        const onShutdown = () => {
          if (ctx.signal.aborted) return;
          call.emit("error", { code: grpc.status.UNAVAILABLE, details: "the server is shutting down; call again" });
          ctx.controller.abort(new Error("server shutting down"));
        };
        opts.shutdownSignal?.addEventListener("abort", onShutdown, { once: true });
        if (opts.shutdownSignal?.aborted) return onShutdown();
        void (async () => {
          await admitAndAuthenticate(call, ctx);
          await fn(decoded(call.request, ctx.method), call, ctx);
        })()
          .then(
            () => {
              if (!ctx.signal.aborted) call.end(ctx.trailer);
            },
            (err: unknown) => {
              if (!ctx.signal.aborted) call.emit("error", fail(ctx, err));
            },
          )
          .finally(() => opts.shutdownSignal?.removeEventListener("abort", onShutdown));
      };
    },

    /** `fn` reads the request messages (a message that does not decode is thrown as E_INVALID_MESSAGE) and resolves to the answer. */
    clientStream<Req, Res>(
      fn: (messages: AsyncIterable<Req>, ctx: RpcContext) => Promise<Res>,
    ): grpc.handleClientStreamingCall<Req, Res> {
      return (call, callback) => {
        const ctx = contextFor(call);
        void (async () => {
          await admitAndAuthenticate(call, ctx);
          return fn(decodedMessages(call, ctx.method), ctx);
        })().then(
          (res) => {
            if (!ctx.signal.aborted) callback(null, res, ctx.trailer);
          },
          (err: unknown) => {
            if (!ctx.signal.aborted) callback(fail(ctx, err));
          },
        );
      };
    },
  };
}

export type Rpc = ReturnType<typeof createRpc>;
