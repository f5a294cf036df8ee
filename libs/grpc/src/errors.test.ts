import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { HttpError, errorCatalog, errorCodes } from "@veriflow/errors";
import { ERROR_CODE_KEY, RETRY_AFTER_KEY, toGrpcStatus } from "./errors.js";

describe("toGrpcStatus", () => {
  it("answers every catalog code with the catalog's gRPC status and the code in the trailer", () => {
    for (const code of errorCodes) {
      const { status } = toGrpcStatus(new HttpError(code, "m"));
      expect(grpc.status[status.code], code).toBe(errorCatalog[code].grpc);
      expect(status.metadata?.get(ERROR_CODE_KEY), code).toEqual([code]);
    }
    expect(toGrpcStatus(new HttpError("E_REGISTRY_INCOMPATIBLE", "not a registry")).status).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: "not a registry" });
  });

  it("answers anything else INTERNAL with a generic message", () => {
    const { status, internal } = toGrpcStatus(new Error("secret postgres://u:p@db"));
    expect(status).toMatchObject({ code: grpc.status.INTERNAL, details: "internal server error" });
    expect(status.metadata?.get(ERROR_CODE_KEY)).toEqual(["E_INTERNAL"]);
    expect(internal).toBe(true);
  });

  it("tells when to call again for a full store or a bound reached, and not for a bad request", () => {
    const full = toGrpcStatus(new HttpError("E_STORAGE_FULL", "full", { retryAfterSeconds: 12 }));
    expect(full.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(full.status.metadata?.get(RETRY_AFTER_KEY)).toEqual(["12"]);
    expect(full.status.metadata?.get("grpc-retry-pushback-ms")).toEqual(["12000"]);
    expect(full.internal).toBe(false);
    // A 503 that names no delay gets the default one.
    expect(toGrpcStatus(new HttpError("E_QUEUE_UNAVAILABLE", "down")).status.metadata?.get(RETRY_AFTER_KEY)).toEqual(["5"]);
    expect(toGrpcStatus(new HttpError("E_INVALID_REGISTRY_ADDRESS", "bad")).status.metadata?.get(RETRY_AFTER_KEY)).toEqual([]);
  });
});
