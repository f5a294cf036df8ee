export * from "./chain.js";
export * from "./free-port.js";
export * from "./nats-server.js";
export * from "./postgres.js";
export * from "./registry.js";
export * from "./manifest-server.js";
export * from "./provenance.js";
export * from "./private-postgres.js";
