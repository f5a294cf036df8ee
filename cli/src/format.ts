import type { DeadLetter, DeadLetterPage, Job, JobPage, WatchPage } from "./api.js";

const row = (label: string, value: string | number) => `  ${label.padEnd(16)}${value}`;
const mark = (ok: unknown) => (ok === true ? "yes" : ok === false ? "NO" : "-");

/** A job as a person reads it: the verdict, its reasons and checks; for proofs the registration. */
export function formatJob(job: Job): string {
  const run = job.run !== undefined && job.run > 1 ? `  run ${job.run}` : "";
  const lines = [`job ${job.id}  ${job.type}  ${job.status}${job.status === "completed" || job.status === "failed" ? "" : ` ${job.progress}%`}${run}`];
  const r = job.result;
  if (job.status === "completed" && r) {
    lines.push(row("verdict", r.status));
    lines.push(row("reasons", Array.isArray(r.reasons) && r.reasons.length > 0 ? r.reasons.join(", ") : "none"));
    if (typeof r.reusedFrom === "string") lines.push(row("answered from", `job ${r.reusedFrom}, decided at block ${r.decidedAtBlock ?? "-"} (unchanged on chain since; --fresh decides afresh)`));
    if (r.checks) {
      const c = r.checks;
      lines.push(row("checks", `manifest hash ${mark(c.manifestHashOk)}, creator ${mark(c.creatorOk)}, manifest URI ${mark(c.manifestOk)}, DID ${mark(c.didOk)}`));
    }
    lines.push(row("file hash", r.fileHash ?? job.contentHash ?? "-"));
    lines.push(row("signer", r.recovered ?? "none recovered"));
    if (r.onchain) {
      const o = r.onchain;
      const when = o.timestamp > 0 ? new Date(o.timestamp * 1000).toISOString() : "not registered";
      lines.push(row("on chain", `creator ${o.creator}, ${when}${o.revoked ? ", REVOKED" : ""}`));
      if (o.manifestURI) lines.push(row("registered URI", o.manifestURI));
    }
    if (job.type === "proof" || r.txHash !== undefined) {
      lines.push(row("chain id", r.chainId ?? "-"));
      lines.push(row("tx hash", r.txHash ?? r.registration?.txHash ?? "-"));
      lines.push(row("block", r.blockNumber ?? r.registration?.blockNumber ?? "-"));
    }
  } else if (job.status === "failed") {
    const f = job.failure;
    lines.push(row("failed at", f ? `${f.stage} (${f.code}, ${f.attempts} attempt${f.attempts === 1 ? "" : "s"})` : "-"));
    lines.push(row("error", f?.message ?? job.error ?? "-"));
    lines.push(row("retry", `veriflow jobs retry ${job.id}`));
  }
  if (job.status !== "completed" && job.contentHash) lines.push(row("file hash", job.contentHash));
  lines.push(row("manifest", job.manifestUri ?? "-"));
  lines.push(row("registry", job.registryAddress ?? "-"));
  if (job.priority) lines.push(row("priority", job.priority));
  lines.push(row("created", job.createdAt));
  if (job.completedAt) lines.push(row("finished", job.completedAt));
  return `${lines.join("\n")}\n`;
}

/** One line per change, for `jobs watch`. */
export function formatChange(job: Job, describe: string): string {
  const verdict = job.status === "completed" ? ` ${job.result?.status ?? ""}` : "";
  return `${new Date().toISOString().slice(11, 19)}  ${job.status}${verdict}  ${job.progress}%  ${describe}\n`;
}

export function formatJobList(page: JobPage): string {
  if (page.jobs.length === 0) return `no jobs (total ${page.total})\n`;
  const header = `${"ID".padEnd(36)}  ${"TYPE".padEnd(6)}  ${"STATUS".padEnd(10)}  ${"VERDICT".padEnd(7)}  CREATED`;
  const rows = page.jobs.map((j) => {
    const verdict = j.status === "completed" ? String(j.result?.status ?? "") : j.status === "failed" ? (j.failure?.code ?? "") : `${j.progress}%`;
    return `${j.id.padEnd(36)}  ${j.type.padEnd(6)}  ${j.status.padEnd(10)}  ${verdict.padEnd(7)}  ${j.createdAt}`;
  });
  const shown = `${page.offset + 1}-${page.offset + page.jobs.length} of ${page.total}`;
  return `${[header, ...rows].join("\n")}\n${shown}\n`;
}

/** Quotes an argument for a POSIX shell when it needs it (for the commands the CLI prints). */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function formatDeadLetterList(page: DeadLetterPage): string {
  if (page.deadLetters.length === 0) return `no dead letters (total ${page.total})\n`;
  const header = `${"SEQ".padEnd(8)}  ${"CONSUMER".padEnd(17)}  ${"DEAD-LETTERED".padEnd(24)}  ${"SUBJECT".padEnd(60)}  REASON`;
  const rows = page.deadLetters.map(
    (d) => `${String(d.seq).padEnd(8)}  ${d.consumer.padEnd(17)}  ${d.deadLetteredAt.padEnd(24)}  ${d.subject.padEnd(60)}  ${d.reason.replace(/\s+/g, " ").slice(0, 100)}`,
  );
  const more = page.next === null ? "" : `; next page: veriflow dead-letters list --after ${page.next}`;
  return `${[header, ...rows].join("\n")}\n${page.deadLetters.length} of ${page.total}${more}\n`;
}

/** One dead letter: where it came from, why, its headers and its bytes (JSON pretty-printed). */
export function formatDeadLetter(d: DeadLetter): string {
  const lines = [`dead letter ${d.seq}  set aside by ${d.consumer}`];
  lines.push(row("subject", d.subject || "-"));
  lines.push(row("stream seq", d.streamSeq ?? "-"));
  lines.push(row("dead-lettered", d.deadLetteredAt));
  lines.push(row("reason", d.reason || "-"));
  lines.push(row("size", `${d.size} bytes`));
  for (const [name, value] of Object.entries(d.headers)) lines.push(row(`header`, `${name}: ${value}`));
  lines.push(row("replay", `veriflow dead-letters replay ${d.seq}`));
  const body = d.json !== null ? JSON.stringify(d.json, null, 2) : d.data;
  lines.push(`  data (${d.json !== null ? "json" : d.dataEncoding}):`, body);
  return `${lines.join("\n")}\n`;
}

/** `veriflow watches`: one line per watch, its current verdict and how many came before it. */
export function formatWatchList(page: WatchPage): string {
  if (page.watches.length === 0) return `no watches (total ${page.total})\n`;
  const header = `${"ID".padEnd(36)}  ${"CONTENT HASH".padEnd(18)}  ${"STATE".padEnd(7)}  ${"VERDICT".padEnd(10)}  ${"RUNS".padEnd(4)}  CREATED`;
  const rows = page.watches.map((w) => {
    const verdict = w.status === "completed" ? String(w.verdict?.status ?? "") : w.status;
    const hash = `${w.contentHash.slice(0, 10)}…${w.contentHash.slice(-6)}`;
    return `${w.watchId.padEnd(36)}  ${hash.padEnd(18)}  ${(w.active ? "active" : "stopped").padEnd(7)}  ${verdict.padEnd(10)}  ${String(w.run).padEnd(4)}  ${w.createdAt}`;
  });
  const first = page.offset ?? 0;
  return `${[header, ...rows].join("\n")}\n${first + 1}-${first + page.watches.length} of ${page.total}\n`;
}
