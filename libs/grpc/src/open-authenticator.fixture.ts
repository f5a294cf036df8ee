import { BOOTSTRAP_PRINCIPAL, type Authenticator } from "@veriflow/auth";

/** For this library's tests: no key anywhere (development), so every call stands for the bootstrap principal. Not used by the library. */
export const openAuthenticator: Authenticator = { authenticate: async () => BOOTSTRAP_PRINCIPAL, forget: () => {} };
