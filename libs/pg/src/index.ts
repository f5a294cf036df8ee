export * from "./migrations.js";
export * from "./postgres.js";
