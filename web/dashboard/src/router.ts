import { useEffect, useState } from "preact/hooks";

/** Where the app lives (vite `base`); its routes are paths below it, answered by the gateway with index.html. */
export const BASE = "/dashboard";

export type Route =
  | { name: "jobs" }
  | { name: "job"; jobId: string }
  | { name: "watches" }
  | { name: "pipeline" }
  | { name: "dead-letters"; seq: number | null }
  | { name: "submit" };

/** A path under BASE as a route; anything unknown is the jobs table. */
export function parseRoute(pathname: string): Route {
  const parts = pathname.slice(pathname.startsWith(BASE) ? BASE.length : 0).split("/").filter(Boolean);
  const [first, second] = parts;
  if (first === "jobs" && second) return { name: "job", jobId: decodeURIComponent(second) };
  if (first === "watches") return { name: "watches" };
  if (first === "pipeline") return { name: "pipeline" };
  if (first === "dead-letters") return { name: "dead-letters", seq: second && /^\d+$/.test(second) ? Number(second) : null };
  if (first === "submit") return { name: "submit" };
  return { name: "jobs" };
}

export function hrefOf(route: Route): string {
  switch (route.name) {
    case "jobs":
      return `${BASE}/`;
    case "job":
      return `${BASE}/jobs/${encodeURIComponent(route.jobId)}`;
    case "dead-letters":
      return `${BASE}/dead-letters${route.seq === null ? "" : `/${route.seq}`}`;
    default:
      return `${BASE}/${route.name}`;
  }
}

const listeners = new Set<() => void>();

export function navigate(route: Route): void {
  history.pushState(null, "", hrefOf(route));
  listeners.forEach((l) => l());
}

/** The current route, following links and the browser's back and forward. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return route;
}
