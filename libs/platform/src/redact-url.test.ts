import { describe, expect, it } from "vitest";
import { redactUrl } from "./redact-url.js";

describe("redactUrl", () => {
  it.each([
    // credentials: DATABASE_URL, NATS_URL
    ["postgres://veriflow:s3cret@db.internal:5432/veriflow?sslmode=require&password=s3cret", "postgres://***:***@db.internal:5432/veriflow?sslmode=***&password=***"],
    ["nats://token@127.0.0.1:4222", "nats://***@127.0.0.1:4222"],
    // query keys and tokens: RPC providers, gateways, signed manifest URLs
    ["https://rpc.example.com/?apikey=abc123", "https://rpc.example.com/?apikey=***"],
    ["https://cdn.example.com/m.json?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA%2F1", "https://cdn.example.com/m.json?X-Amz-Signature=***&X-Amz-Credential=***"],
    // a key as a path segment (Infura, Alchemy); file names and short segments stay
    ["https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161", "https://mainnet.infura.io/v3/***"],
    ["https://eth-mainnet.g.alchemy.com/v2/Xy7_fQ2kLm9-AbCdEfGhIjKl", "https://eth-mainnet.g.alchemy.com/v2/***"],
    ["http://127.0.0.1:8545", "http://127.0.0.1:8545/"],
    ["https://example.com/manifests/0123456789abcdefghijklmnop.json", "https://example.com/manifests/0123456789abcdefghijklmnop.json"],
    ["https://example.com/manifests/photo-of-the-harbour-at-night", "https://example.com/manifests/photo-of-the-harbour-at-night"],
    // fragments are never sent anywhere: dropped
    ["https://example.com/m.json#access_token=abc", "https://example.com/m.json"],
    // lists, entry by entry
    ["nats://a:b@n1:4222, nats://n2:4222", "nats://***:***@n1:4222,nats://n2:4222"],
    // not a URL: not echoed
    ["s3cret-typed-into-RPC_URL", "[not a URL]"],
    ["", ""],
  ])("%s → %s", (raw, logged) => {
    expect(redactUrl(raw)).toBe(logged);
  });
});
