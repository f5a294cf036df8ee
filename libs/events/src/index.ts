export * from "./catalog.js";
export * from "./envelope.js";
export * from "./topology.js";
export * from "./pipeline.js";
