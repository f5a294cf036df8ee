/**
 * Generates deploy/k8s/base/ (the Kustomize base: one file per service, the setup Job, the
 * config) and deploy/k8s/nats/values.yaml (the official NATS Helm chart's values: a three-node
 * JetStream cluster with the accounts and permissions of deploy/nats/nats-server.conf) from
 * the pipeline descriptor. The overlays (deploy/k8s/overlays/) are written by hand.
 *
 *   tsx deploy/k8s/scripts/generate-k8s.ts          write the files
 *   tsx deploy/k8s/scripts/generate-k8s.ts --check  exit 1 if any is stale
 */
import { fileURLToPath } from "node:url";
import { runGenerator, staleFiles, type GeneratedFile } from "../../../scripts/generated-files.js";
import { dump } from "js-yaml";
// The descriptor from source, as the tests read it (not a possibly stale dist/).
import { NATS_ACCOUNT, natsUsers } from "../../../libs/events/src/index.js";
import { baseResources, type Resource } from "./k8s-resources.js";

export const K8S_DIR = fileURLToPath(new URL("..", import.meta.url));

const HEADER = "# Generated from the pipeline descriptor by `npm run generate:k8s` (deploy/k8s/scripts); do not edit.\n";

const yaml = (docs: readonly object[]) => HEADER + docs.map((d) => dump(d, { lineWidth: 120, noRefs: true })).join("---\n");

/**
 * The chart's values: three nodes, JetStream on file storage, the monitoring port KEDA reads,
 * and the account with one user per service. `<< $VAR >>` is the chart's way to write a value
 * unquoted: nats-server then reads each password from its environment, filled from the secret.
 */
function natsValues(): object {
  const users = natsUsers();
  return {
    config: {
      cluster: { enabled: true, replicas: 3 },
      jetstream: { enabled: true, fileStore: { enabled: true, pvc: { enabled: true, size: "20Gi" } } },
      monitor: { enabled: true, port: 8222 },
      merge: {
        accounts: {
          [NATS_ACCOUNT]: {
            jetstream: "enabled",
            users: users.map((u) => ({
              user: u.user,
              password: `<< $${u.passwordVariable} >>`,
              ...(u.publish === null && u.subscribe === null
                ? {}
                : {
                    permissions: {
                      ...(u.publish ? { publish: { allow: u.publish, ...(u.publishDeny?.length ? { deny: u.publishDeny } : {}) } } : {}),
                      ...(u.subscribe ? { subscribe: { allow: u.subscribe } } : {}),
                    },
                  }),
            })),
          },
        },
      },
    },
    container: {
      env: Object.fromEntries(users.map((u) => [u.passwordVariable, { valueFrom: { secretKeyRef: { name: "veriflow-secrets", key: u.passwordVariable } } }])),
    },
  };
}

/** Every generated file: its path under deploy/k8s/ and its text. */
export function k8sFiles(): GeneratedFile[] {
  const files = baseResources();
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: files.map((f) => f.file),
  };
  return [
    ...files.map((f) => ({ path: `${K8S_DIR}base/${f.file}`, render: () => yaml(f.resources) })),
    { path: `${K8S_DIR}base/kustomization.yaml`, render: () => yaml([kustomization]) },
    { path: `${K8S_DIR}nats/values.yaml`, render: () => yaml([natsValues()]) },
  ];
}

/** The documents of the base, as objects (what the files hold). */
export function baseDocuments(): Resource[] {
  return baseResources().flatMap((f) => f.resources);
}

/** The generated files that differ from what is committed (empty: all current). */
export function staleK8sFiles(): Promise<string[]> {
  return staleFiles(k8sFiles());
}

await runGenerator(import.meta.url, "generate:k8s", k8sFiles);
