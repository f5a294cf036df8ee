export * from "./zod.js";
export * from "./errors.js";
export * from "./query.js";
export * from "./jobs.js";
export * from "./admin.js";
export * from "./submission.js";
export * from "./routes.js";
export * from "./document.js";
