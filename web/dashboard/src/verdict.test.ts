import { describe, expect, it } from "vitest";
import { explainChecks, explainFailure, explainReasons, verdictHeadline, verdictInBrief } from "./verdict.js";

describe("verdict in words", () => {
  it("says what OK, WARN and FAIL mean", () => {
    expect(verdictHeadline({ status: "OK" })).toMatch(/^Verified: .*registered on-chain by the creator who signed/);
    expect(verdictHeadline({ status: "WARN" })).toMatch(/warning.*manifest URI differs/);
    expect(verdictHeadline({ status: "FAIL" })).toMatch(/^Not verified/);
    expect((["OK", "WARN", "FAIL"] as const).map(verdictInBrief)).toEqual(["verified", "verified, with a warning", "not verified"]);
  });

  it("explains each reason, and shows an unknown one as it came", () => {
    expect(explainReasons(["not_registered", "revoked", "brand_new"])).toEqual([
      "This content hash is not registered in the registry contract.",
      "The creator revoked this registration (its manifest URI is now empty).",
      "Reason: brand_new",
    ]);
    expect(explainReasons()).toEqual([]);
  });

  it("lists the checks the result has, in a fixed order, passing and failing in words", () => {
    const checks = explainChecks({ creatorOk: false, manifestHashOk: true });
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ["manifestHashOk", true],
      ["creatorOk", false],
    ]);
    expect(checks[0]!.text).toMatch(/content_hash is the SHA-256 of this file/);
    expect(checks[1]!.text).toMatch(/not signed by the address that registered/);
  });

  it("says where a failed job stopped and what to do", () => {
    expect(explainFailure({ stage: "manifest", code: "E_MANIFEST_UNAVAILABLE", message: "manifest host did not answer", attempts: 3 })).toBe(
      "The job stopped at the manifest stage after 3 attempts: manifest host did not answer (E_MANIFEST_UNAVAILABLE). Once the cause is fixed it can be retried.",
    );
    expect(explainFailure(null)).toBe("The job failed.");
  });
});
