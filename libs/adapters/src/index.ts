export * from "./chain/chain-access.js";
export * from "./chain/find-registration.js";
export * from "./chain/registry-reader.js";
export * from "./chain/rpc.js";
export * from "./manifest/fetch-manifest.js";
export * from "./manifest/ip-address.js";
export * from "./manifest/safe-http.js";
