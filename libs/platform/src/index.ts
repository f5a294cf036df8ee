export * from "./config.js";
export * from "./logger.js";
export * from "./metrics.js";
export * from "./nats-config.js";
export * from "./run-main.js";
export * from "./shutdown.js";
export * from "./redact-url.js";
export * from "./scrape-reading.js";
