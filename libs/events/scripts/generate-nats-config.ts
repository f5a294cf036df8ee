/**
 * Generates deploy/nats/nats-server.conf, the NATS account and per-service users with their
 * permissions, from libs/events (the pipeline descriptor, through natsUsers()).
 *
 *   tsx libs/events/scripts/generate-nats-config.ts          write deploy/nats/nats-server.conf
 *   tsx libs/events/scripts/generate-nats-config.ts --check  exit 1 if it is stale
 */
import { fileURLToPath } from "node:url";
import { runGenerator, staleFiles } from "../../../scripts/generated-files.js";
import { NATS_ACCOUNT, natsUsers, type NatsUser } from "../src/nats-permissions.js";

export const NATS_CONFIG_FILE = fileURLToPath(new URL("../../../deploy/nats/nats-server.conf", import.meta.url));

/** A quoted string: `$JS.…` unquoted would be read as a variable reference. */
const quoted = (s: string) => JSON.stringify(s);

function permission(kind: "publish" | "subscribe", allow: readonly string[], deny: readonly string[] = []): string[] {
  const list = (name: string, subjects: readonly string[]) => [`          ${name}: [`, ...subjects.map((s) => `            ${quoted(s)}`), "          ]"];
  return [`        ${kind}: {`, ...list("allow", allow), ...(deny.length > 0 ? list("deny", deny) : []), "        }"];
}

function userBlock(u: NatsUser): string[] {
  const permissions =
    u.publish === null && u.subscribe === null
      ? []
      : ["      permissions: {", ...(u.publish ? permission("publish", u.publish, u.publishDeny) : []), ...(u.subscribe ? permission("subscribe", u.subscribe) : []), "      }"];
  // The password is a variable: nats-server takes it from its environment, so no secret is in this file.
  return [`      # ${u.description}`, "      {", `        user: ${quoted(u.user)}`, `        password: $${u.passwordVariable}`, ...permissions.map((l) => `  ${l}`), "      }"];
}

/** deploy/nats/nats-server.conf as generated from the descriptor. Deterministic. */
export function renderNatsConfig(): string {
  const users = natsUsers();
  return [
    "# Generated from libs/events (the pipeline descriptor: libs/events/src/nats-permissions.ts) by",
    "# `npm run generate:nats-config`; do not edit. A test fails when it is stale.",
    "#",
    `# One account, ${NATS_ACCOUNT}, with one user per service: each may publish only the subjects it`,
    "# owns (the events it produces, its consumer's acks, dead letters and checkpoints, the JetStream",
    "# API calls it makes), so a service cannot publish another's events. There is no anonymous user.",
    "# Each password comes from nats-server's environment:",
    `#   ${users.map((u) => u.passwordVariable).join(" ")}`,
    "# Run it with JetStream's flags on the command line (a store_dir here would clash with -sd):",
    "#   nats-server -c nats-server.conf -js -sd /data",
    "",
    "accounts {",
    `  ${NATS_ACCOUNT} {`,
    "    jetstream: enabled",
    "    users: [",
    ...users.flatMap(userBlock),
    "    ]",
    "  }",
    "}",
    "",
  ].join("\n");
}

const files = () => [{ path: NATS_CONFIG_FILE, render: renderNatsConfig }];

/** True when the committed file is what the descriptor generates. */
export async function isNatsConfigCurrent(): Promise<boolean> {
  return (await staleFiles(files())).length === 0;
}

await runGenerator(import.meta.url, "generate:nats-config", files);
