export * from "./give-up.js";
export * from "./load-stages.js";
export * from "./run-in-process.js";
export * from "./stage-module.js";
