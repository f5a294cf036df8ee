import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.js";

export interface Polled<T> {
  data: T | null;
  error: unknown;
  /** Fetch again now (after an action). */
  refresh: () => void;
}

/**
 * Calls `load` now and every `intervalMs` while the tab is visible (a hidden tab asks nothing),
 * backing off (doubling, up to a minute) while it fails, and honouring a Retry-After; a change
 * of `deps` starts over. Polling, not a push: the status service's change notifications are
 * on NATS, which a browser does not reach, and a list's rows change in ways one job's SSE
 * watch does not cover (new jobs, filters). Two seconds keeps the table live at a cost of one
 * index-backed page read per open tab.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, intervalMs: number, deps: unknown[]): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const kick = useRef<() => void>(() => {});
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | undefined;
    let delay = intervalMs;
    const run = async () => {
      clearTimeout(timer);
      controller?.abort();
      if (stopped) return;
      if (document.visibilityState === "hidden") {
        timer = setTimeout(() => void run(), intervalMs);
        return;
      }
      controller = new AbortController();
      try {
        const value = await load(controller.signal);
        if (stopped) return;
        setData(value);
        setError(null);
        delay = intervalMs;
      } catch (err) {
        if (stopped || (err instanceof DOMException && err.name === "AbortError")) return;
        setError(err);
        const retryAfter = err instanceof ApiError && err.retryAfter ? err.retryAfter * 1000 : 0;
        delay = Math.max(retryAfter, Math.min(delay * 2, 60_000));
      }
      timer = setTimeout(() => void run(), delay);
    };
    kick.current = () => void run();
    const onVisible = () => document.visibilityState === "visible" && void run();
    document.addEventListener("visibilitychange", onVisible);
    setData(null);
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, deps);
  return { data, error, refresh: () => kick.current() };
}
