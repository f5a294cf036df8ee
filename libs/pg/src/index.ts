export * from "./availability.js";
export * from "./config.js";
export * from "./migrations.js";
export * from "./postgres.js";
export * from "./retention.js";
export * from "./storable.js";
