import { useState } from "preact/hooks";
import { describeError } from "./api.js";
import { navigate } from "./router.js";

/**
 * A form that queues a job (a file's submission, a watch): busy while the request runs (its
 * button disabled), the refusal in words, and on acceptance the job's page, to follow it there.
 */
export function useSendAndOpen() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  /** `request` answers the accepted job's id. */
  const send = async (request: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    try {
      navigate({ name: "job", jobId: await request() });
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, send };
}
