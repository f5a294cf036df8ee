export * from "./api-key.js";
export * from "./http.js";
export * from "./metrics.js";
export * from "./ops-server.js";
export * from "./text-field.js";
export * from "./router.js";
export * from "./server.js";
export * from "./server-limits.js";
