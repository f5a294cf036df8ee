/**
 * Generates docs/errors.md, the table of every E_* code, from the catalog.
 *
 *   tsx libs/errors/scripts/generate-errors-doc.ts          write docs/errors.md
 *   tsx libs/errors/scripts/generate-errors-doc.ts --check  exit 1 if it is stale
 */
import { fileURLToPath } from "node:url";
import { runGenerator, staleFiles } from "../../../scripts/generated-files.js";
import { errorCodes, errorKinds, errorSpec, type ErrorKind } from "../src/catalog.js";

export const ERRORS_DOC = fileURLToPath(new URL("../../../docs/errors.md", import.meta.url));

/** A table cell: pipes would end the cell, newlines the row. */
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)];
}

/** docs/errors.md as generated from the catalog. Deterministic. */
export function renderErrorsDoc(): string {
  const kinds = Object.keys(errorKinds) as ErrorKind[];
  const failures = errorCodes.filter((c) => errorSpec(c).jobFailure);
  return [
    "# Error codes",
    "",
    "<!-- Generated from libs/errors/src/catalog.ts by `npm run generate:errors-doc`; do not edit. A test fails when it is stale. -->",
    "",
    "Every error veriflow answers carries a stable `E_*` code: in the REST body",
    "`{ error: { code, message, details? }, requestId }`, in the `x-error-code` trailer of a gRPC",
    "status, and as the `code` of a failed job. Switch on the code, never on the message (it is",
    "for people and may change). A code's kind says what you can do about it; its HTTP and gRPC",
    "statuses follow from the kind.",
    "",
    "## Kinds",
    "",
    ...table(["kind", "codes", "what it means, what to do"], kinds.map((k) => [`\`${k}\``, String(errorCodes.filter((c) => errorSpec(c).kind === k).length), errorKinds[k]])),
    "",
    "## Codes of a failed job",
    "",
    "A job fails (status `failed`, `failure: { stage, code, message, attempts }`, the",
    "`verification.failed` event's `data.code`) with one of these codes. A synchronous request",
    "(`POST /api/verify`, `?wait=`, the in-process fallback) answers a failed job with the code's",
    "HTTP status below and `details: { jobId, stage, attempts, pollUrl }`. Subscribers should",
    "treat a code they do not know as they treat `E_INTERNAL`: a newer version may add codes.",
    "",
    failures.map((c) => `\`${c}\``).join(", "),
    "",
    "## Every code",
    "",
    ...table(
      ["code", "kind", "HTTP", "gRPC", "failed job", "meaning"],
      errorCodes.map((c) => {
        const s = errorSpec(c);
        return [`\`${c}\``, s.kind, String(s.http), s.grpc, s.jobFailure ? "yes" : "", s.description];
      }),
    ),
    "",
  ].join("\n");
}

const files = () => [{ path: ERRORS_DOC, render: renderErrorsDoc }];

/** True when docs/errors.md is what the catalog generates. */
export async function isErrorsDocCurrent(): Promise<boolean> {
  return (await staleFiles(files())).length === 0;
}

await runGenerator(import.meta.url, "generate:errors-doc", files);
