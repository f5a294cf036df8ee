export * from "./catalog.js";
export * from "./envelope.js";
export * from "./job-status.js";
export * from "./jobs-api.js";
export * from "./topology.js";
export * from "./pipeline.js";
export * from "./nats-permissions.js";
export * from "./tenant.js";
