import type { ComponentChildren } from "preact";
import { describeError } from "./api.js";
import { hrefOf, navigate, type Route } from "./router.js";
import type { JobStatus } from "./types.js";

/** An in-app link: a real href (open in a new tab works), navigation without a reload. */
export function Link(props: { to: Route; children: ComponentChildren; class?: string; testid?: string }) {
  return (
    <a
      href={hrefOf(props.to)}
      class={props.class}
      data-testid={props.testid}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

/** A table's first cell: a job's id, short, opening its page (a watch's id is its job's). */
export function JobIdCell({ jobId }: { jobId: string }) {
  return (
    <td class="mono">
      <Link to={{ name: "job", jobId }}>{jobId.slice(0, 8)}</Link>
    </td>
  );
}

/** Reads the next page of a table, while there is one. */
export function MoreButton(props: { next: string | null; onMore: () => Promise<void>; children: ComponentChildren }) {
  if (!props.next) return null;
  return (
    <button class="button secondary" onClick={() => void props.onMore()} data-testid="load-more">
      {props.children}
    </button>
  );
}

export function StatusBadge({ status }: { status: JobStatus }) {
  return (
    <span class={`badge badge-${status}`} data-testid="job-status">
      {status}
    </span>
  );
}

export function VerdictBadge({ status }: { status: string | undefined }) {
  if (!status) return <span class="muted">–</span>;
  return <span class={`verdict verdict-${status.toLowerCase()}`}>{status}</span>;
}

export function Progress({ value }: { value: number }) {
  return (
    <span class="progress" title={`${value}%`}>
      <span class="progress-bar" style={{ width: `${Math.max(0, Math.min(100, value))}%` }} />
    </span>
  );
}

/** An error as a banner a person can act on (a missing scope says which). */
export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div class="banner banner-error" role="alert" data-testid="error">
      {describeError(error)}
    </div>
  );
}

/** What an action on a row or a card came to (a retry, a replay, a stop), in words. */
export interface ActionResult {
  ok: boolean;
  text: string;
}

export function ResultBanner({ result, testid }: { result: ActionResult | null; testid: string }) {
  if (!result) return null;
  return (
    <div class={`banner ${result.ok ? "banner-ok" : "banner-error"}`} role="status" data-testid={testid}>
      {result.text}
    </div>
  );
}

export function Card(props: { title: string; children: ComponentChildren; actions?: ComponentChildren; testid?: string }) {
  return (
    <section class="card" data-testid={props.testid}>
      <header class="card-head">
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

export function Stat(props: { label: string; value: string; tone?: string; testid?: string }) {
  return (
    <div class={`stat ${props.tone ? `stat-${props.tone}` : ""}`} data-testid={props.testid}>
      <div class="stat-value">{props.value}</div>
      <div class="stat-label">{props.label}</div>
    </div>
  );
}
