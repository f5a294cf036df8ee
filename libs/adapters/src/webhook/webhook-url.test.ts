import { describe, expect, it } from "vitest";
import { MAX_URL_LENGTH } from "../url-length.js";
import { createWebhookUrlCheck } from "./webhook-url.js";

describe("createWebhookUrlCheck", () => {
  const check = createWebhookUrlCheck([]);

  it("accepts public http(s) URLs", () => {
    expect(check("https://hooks.example.com/veriflow?x=1")).toEqual({ ok: true, url: "https://hooks.example.com/veriflow?x=1" });
    expect(check("http://8.8.8.8:8080/cb")).toMatchObject({ ok: true });
  });

  it("refuses what is not an http(s) URL, a fragment, or an overlong URL", () => {
    expect(check("not a url")).toMatchObject({ ok: false, code: "E_INVALID_WEBHOOK_URL" });
    expect(check("ftp://example.com/x")).toMatchObject({ ok: false, code: "E_INVALID_WEBHOOK_URL" });
    expect(check("https://example.com/#x")).toMatchObject({ ok: false, code: "E_INVALID_WEBHOOK_URL" });
    expect(check(`https://example.com/${"a".repeat(MAX_URL_LENGTH)}`)).toMatchObject({ ok: false, code: "E_INVALID_WEBHOOK_URL" });
  });

  it("refuses private, loopback and link-local literals and localhost", () => {
    for (const url of ["http://127.0.0.1:3000/", "http://10.1.2.3/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://localhost:8080/", "http://api.localhost/", "http://0x7f000001/"]) {
      expect(check(url), url).toMatchObject({ ok: false, code: "E_WEBHOOK_HOST_NOT_ALLOWED" });
    }
  });

  it("accepts allow-listed private hosts, by host or host:port", () => {
    const local = createWebhookUrlCheck(["127.0.0.1", "localhost:8080", "[::1]:9000"]);
    expect(local("http://127.0.0.1:1234/cb")).toMatchObject({ ok: true });
    expect(local("http://localhost:8080/cb")).toMatchObject({ ok: true });
    expect(local("http://localhost:8081/cb")).toMatchObject({ ok: false });
    expect(local("http://[::1]:9000/cb")).toMatchObject({ ok: true });
    expect(local("http://10.0.0.1/cb")).toMatchObject({ ok: false });
  });
});
