/** The CLI's defaults (see `veriflow --help`). */
export const DEFAULT_URL = "http://127.0.0.1:3001";
export const DEFAULT_TIMEOUT_S = 300;
/** How long `verify` keeps retrying a busy or full gateway (its Retry-After waits, in all). */
export const DEFAULT_RETRY_FOR_S = 120;
/** Hardhat's account #0 of the public "test test … junk" mnemonic: funded on every dev chain, never a secret. */
export const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
