export * from "./errors.js";
export * from "./grpc-server.js";
export * from "./proto.js";
export * from "./rpc.js";
export * from "./types.js";
export * from "./verdict.js";
export * from "./server-limits.js";
