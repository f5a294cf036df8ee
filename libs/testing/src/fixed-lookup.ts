import type { LookupFunction } from "node:net";

/**
 * A DNS lookup that answers every name with `address`: what a rebinding attacker's DNS
 * does, without any network. Tests pass it to the guarded agent as its `lookup`.
 */
export const lookupAlways =
  (address: string): LookupFunction =>
  (_host, options, callback) => {
    const cb = callback as (...args: unknown[]) => void;
    if ((options as { all?: boolean }).all) cb(null, [{ address, family: 4 }]);
    else cb(null, address, 4);
  };
