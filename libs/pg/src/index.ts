export * from "./migrations.js";
export * from "./pg-errors.js";
export * from "./postgres.js";
export * from "./storable.js";
