export * from "./api-key.js";
export * from "./authenticator.js";
export * from "./config.js";
export * from "./key-request.js";
export * from "./key-store.js";
export * from "./migrations.js";
export * from "./principal.js";
export * from "./scopes.js";
