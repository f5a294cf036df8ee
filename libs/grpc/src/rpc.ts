import * as grpc from "@grpc/grpc-js";
import { assertScope, type Authenticator, type Principal, type Scope } from "@veriflow/auth";
import { presentedApiKey, registerGrpcMetrics } from "@veriflow/http";
import type { Logger } from "@veriflow/platform";
import { startCallMetrics } from "./call-metrics.js";
import { toGrpcStatus } from "./errors.js";
import { decoded, decodedMessages } from "./undecodable.js";
import { traceCall } from "./trace-call.js";
import { TRACING_OFF, type Context, type Tracing } from "@veriflow/tracing";

export interface RpcOptions {
  log: Logger;
  /** Checks the key of every call (`x-api-key` or `authorization: Bearer` metadata, as REST headers). */
  authenticator: Authenticator;
  /** Aborted when the server stops: open server streams end with UNAVAILABLE at once. */
  shutdownSignal?: AbortSignal;
  /** Rewrites an error before it is mapped (e.g. a database outage into E_DATABASE_UNAVAILABLE). */
  translateError?: (err: unknown) => unknown;
  /** Runs first on every call, before the key is checked (a rate limit): see Limit. */
  limit?: Limit;
  /** A server span per call, in the trace its `traceparent` metadata names (TRACING_OFF when not given). */
  tracing?: Tracing;
}

/**
 * Decides whether a call may run at all: throws to refuse it (an HttpError, mapped like any
 * handler error); what it sets on `trailer` goes out with the answer, success or error.
 */
export type Limit = (call: { metadata: grpc.Metadata; method: string; peer: string }, trailer: grpc.Metadata) => Promise<void>;

/** What every handler gets besides its request: the call's metadata and an abort signal. */
export interface RpcContext {
  metadata: grpc.Metadata;
  /** Aborted when the client cancels, the deadline passes, or the connection drops. */
  signal: AbortSignal;
  /** The method, for logs: "/veriflow.v1.JobService/GetJob". */
  method: string;
  /** Who the call stands for (its API key's tenant and scopes). */
  principal: Principal;
  /** Trailing metadata sent with the answer, success or error. */
  trailer: grpc.Metadata;
  /** The call's trace (its span's context): what the events it publishes carry. */
  trace: Context;
}

/** A call before it is admitted: no principal yet. */
type CallContext = Omit<RpcContext, "principal" | "trace"> & { controller: AbortController; end: (code: grpc.status) => void };

/** What every server call has (grpc-js does not export the type by name). */
interface SurfaceCall {
  readonly metadata: grpc.Metadata;
  getPath(): string;
  getPeer(): string;
  once(event: "cancelled", listener: () => void): unknown;
}

/**
 * Wraps handlers written as async functions into grpc-js handlers: authentication and the
 * scope the method needs (UNAUTHENTICATED, PERMISSION_DENIED), an AbortSignal tied to the
 * call's cancellation (client cancel, deadline), request messages that did not decode refused
 * as the client's error (undecodable.ts), and every thrown error mapped to a gRPC status by
 * toGrpcStatus.
 */
export function createRpc(opts: RpcOptions) {
  registerGrpcMetrics();
  /**
   * The limit first (so calls with a refused key are counted too), then the key and the
   * scope the method needs: the context the handler gets.
   */
  const admit = async (call: SurfaceCall, ctx: CallContext, scope: Scope, trace: Context): Promise<RpcContext> => {
    if (opts.limit) await opts.limit({ metadata: ctx.metadata, method: ctx.method, peer: call.getPeer() }, ctx.trailer);
    const principal = await opts.authenticator.authenticate(
      presentedApiKey((key) => {
        const v = ctx.metadata.get(key)[0];
        return typeof v === "string" ? v : v?.toString("utf8");
      }),
    );
    assertScope(principal, scope);
    return { metadata: ctx.metadata, signal: ctx.signal, method: ctx.method, principal, trailer: ctx.trailer, trace };
  };

  const contextFor = (call: SurfaceCall): CallContext => {
    const controller = new AbortController();
    const end = startCallMetrics(call.getPath());
    call.once("cancelled", () => {
      end(grpc.status.CANCELLED);
      controller.abort(new Error("the call was cancelled"));
    });
    return { metadata: call.metadata, signal: controller.signal, method: call.getPath(), trailer: new grpc.Metadata(), controller, end };
  };

  const fail = (ctx: CallContext, err: unknown): grpc.StatusObject => {
    const { status, internal } = toGrpcStatus(opts.translateError ? opts.translateError(err) : err);
    status.metadata?.merge(ctx.trailer);
    ctx.end(status.code);
    const fields = { err, method: ctx.method, code: grpc.status[status.code] };
    if (internal) opts.log.error(fields, "rpc failed");
    else opts.log.debug(fields, "rpc rejected");
    return status;
  };

  return {
    unary<Req, Res>(scope: Scope, fn: (req: Req, ctx: RpcContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
      return (call, callback) => {
        const ctx = contextFor(call);
        void traceCall(opts.tracing ?? TRACING_OFF, ctx.metadata, ctx.method, async (trace) => {
          const admitted = await admit(call, ctx, scope, trace);
          return fn(decoded(call.request, ctx.method), admitted);
        }).then(
          (res) => {
            if (ctx.signal.aborted) return;
            ctx.end(grpc.status.OK);
            callback(null, res, ctx.trailer);
          },
          (err: unknown) => {
            if (!ctx.signal.aborted) callback(fail(ctx, err));
          },
        );
      };
    },

    /** `fn` writes with `call.write` and resolves when the stream should end. */
    serverStream<Req, Res>(
      scope: Scope,
      fn: (req: Req, call: grpc.ServerWritableStream<Req, Res>, ctx: RpcContext) => Promise<void>,
    ): grpc.handleServerStreamingCall<Req, Res> {
      return (call) => {
        const ctx = contextFor(call);
        const onShutdown = () => {
          if (ctx.signal.aborted) return;
          ctx.end(grpc.status.UNAVAILABLE);
          call.emit("error", { code: grpc.status.UNAVAILABLE, details: "the server is shutting down; call again" });
          ctx.controller.abort(new Error("server shutting down"));
        };
        opts.shutdownSignal?.addEventListener("abort", onShutdown, { once: true });
        if (opts.shutdownSignal?.aborted) return onShutdown();
        void traceCall(opts.tracing ?? TRACING_OFF, ctx.metadata, ctx.method, async (trace) => {
          const admitted = await admit(call, ctx, scope, trace);
          await fn(decoded(call.request, ctx.method), call, admitted);
        })
          .then(
            () => {
              if (ctx.signal.aborted) return;
              ctx.end(grpc.status.OK);
              call.end(ctx.trailer);
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
      scope: Scope,
      fn: (messages: AsyncIterable<Req>, ctx: RpcContext) => Promise<Res>,
    ): grpc.handleClientStreamingCall<Req, Res> {
      return (call, callback) => {
        const ctx = contextFor(call);
        void traceCall(opts.tracing ?? TRACING_OFF, ctx.metadata, ctx.method, async (trace) => {
          const admitted = await admit(call, ctx, scope, trace);
          return fn(decodedMessages(call, ctx.method), admitted);
        }).then(
          (res) => {
            if (ctx.signal.aborted) return;
            ctx.end(grpc.status.OK);
            callback(null, res, ctx.trailer);
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
