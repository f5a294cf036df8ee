export * from "./api-key.js";
export * from "./http.js";
export * from "./metrics.js";
export * from "./ops-server.js";
export * from "./json-body.js";
