import type { JobRequest } from "@veriflow/events";
import { describe, expect, it } from "vitest";
import { withPriority } from "./job-priority.js";

const request = (jobType: "verify" | "proof", priority?: "interactive" | "bulk"): JobRequest => ({
  jobType,
  manifestUri: "https://example.com/m.json",
  registryAddress: "0x" + "2".repeat(40),
  rpcUrl: null,
  callbackUrl: null,
  ...(priority ? { priority } : {}),
});
const submitter = { scopes: ["submit"] as const, waits: false };

describe("a submission's priority", () => {
  it("defaults to interactive for a verification and to bulk for an asynchronous proof", () => {
    expect(withPriority(request("verify"), submitter).priority).toBe("interactive");
    expect(withPriority(request("proof"), submitter).priority).toBe("bulk");
  });

  it("is interactive for anything a client waits for", () => {
    expect(withPriority(request("proof"), { ...submitter, waits: true }).priority).toBe("interactive");
  });

  it("may be lowered to bulk by any key", () => {
    expect(withPriority(request("verify", "bulk"), submitter).priority).toBe("bulk");
  });

  it("may be raised to interactive only with the interactive scope (403 E_PRIORITY_NOT_ALLOWED)", () => {
    expect(() => withPriority(request("proof", "interactive"), submitter)).toThrow(expect.objectContaining({ code: "E_PRIORITY_NOT_ALLOWED", status: 403 }));
    expect(withPriority(request("proof", "interactive"), { scopes: ["submit", "interactive"], waits: false }).priority).toBe("interactive");
  });
});
