/**
 * Longest URL accepted in any field a client sends: a job's manifestURI, rpcUrl and
 * callbackUrl, and a webhook subscription's url. Longer ones are refused as invalid input.
 */
export const MAX_URL_LENGTH = 2048;
