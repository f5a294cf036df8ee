import { describe, expect, it } from "vitest";
import { createWebhookUrlCheck } from "@veriflow/adapters";
import { parseSubscriptionInput } from "./routes.js";

describe("parseSubscriptionInput", () => {
  const check = createWebhookUrlCheck([]);
  const input = (extra: Record<string, unknown>) => ({ url: "https://hooks.example.com/veriflow", eventTypes: ["verification.completed"], ...extra });

  it("refuses control characters in the url (before URL parsing drops them) and in the description", () => {
    expect(() => parseSubscriptionInput(input({ url: "https://hooks.exa\tmple.com/x" }), check)).toThrow(expect.objectContaining({ status: 400, code: "E_CONTROL_CHARACTER" }));
    expect(() => parseSubscriptionInput(input({ description: "alerts \u202Efor ops" }), check)).toThrow(expect.objectContaining({ status: 400, code: "E_CONTROL_CHARACTER" }));
    expect(parseSubscriptionInput(input({ description: "alerts for ops" }), check)).toMatchObject({ url: "https://hooks.example.com/veriflow", description: "alerts for ops" });
  });

  it("refuses non-public hosts in any spelling of the address", () => {
    for (const url of ["http://[fe80::a9fe:a9fe]/", "http://2130706433/", "http://[fd00:ec2::254]/"]) {
      expect(() => parseSubscriptionInput(input({ url }), check), url).toThrow(expect.objectContaining({ code: "E_WEBHOOK_HOST_NOT_ALLOWED" }));
    }
  });
});
