export * from "./catalog.js";
export * from "./errors.js";
