import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { loadAll } from "js-yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { natsUsers, pipeline, serviceNames } from "@veriflow/events";
import { describe, expect, it } from "vitest";
import { K8S_DIR, baseDocuments, staleK8sFiles } from "./scripts/generate-k8s.js";
import type { Resource } from "./scripts/k8s-resources.js";

// The Kubernetes manifests, validated offline: every document against the Kubernetes 1.27
// and KEDA schemas (kubernetes-models), the overlays as `kubectl kustomize` renders them.

const run = promisify(execFile);
const models: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};
/** Custom resources no model covers: checked by kind only. */
const UNMODELLED = new Set(["postgresql.cnpg.io/v1/Cluster"]);

function validate(doc: Resource): void {
  const key = `${doc.apiVersion}/${doc.kind}`;
  if (UNMODELLED.has(key)) return;
  const Model = models[key];
  if (!Model) throw new Error(`no schema for ${key} (${doc.metadata.name}): add its model`);
  new Model(doc as never).validate();
}

const hasKubectl = await run("kubectl", ["version", "--client"]).then(() => true, () => false);
if (!hasKubectl) console.warn("kubectl not found: the overlays are not rendered (the base is still validated)");

describe("deploy/k8s", () => {
  it("is what the pipeline descriptor generates (npm run generate:k8s)", async () => {
    expect(await staleK8sFiles()).toEqual([]);
  });

  it("validates every document of the base against its schema", () => {
    const docs = baseDocuments();
    for (const doc of docs) expect(() => validate(doc), `${doc.kind} ${doc.metadata.name}`).not.toThrow();
    const byKind = (kind: string) => docs.filter((d) => d.kind === kind).map((d) => d.metadata.name).sort();
    expect(byKind("Deployment")).toEqual([...serviceNames].sort());
    expect(byKind("PodDisruptionBudget")).toEqual([...serviceNames].sort());
    expect(byKind("NetworkPolicy")).toEqual([...serviceNames].sort());
    expect(byKind("Job")).toEqual(["veriflow-setup"]);
  });

  it("scales each stage on its consumer's lag and the gateway on CPU (KEDA)", () => {
    const scaled = baseDocuments().filter((d) => d.kind === "ScaledObject") as unknown as { metadata: { name: string }; spec: { triggers: { type: string; metadata: Record<string, string> }[] } }[];
    for (const stage of pipeline.stages) {
      const so = scaled.find((s) => s.metadata.name === stage.service);
      expect(so?.spec.triggers[0], stage.service).toMatchObject({ type: "nats-jetstream", metadata: { stream: "VERIFLOW", consumer: stage.durable } });
    }
    expect(scaled.find((s) => s.metadata.name === "gateway")?.spec.triggers[0]).toMatchObject({ type: "cpu" });
  });

  it("lets only the gateway be reached from outside, and each service log in to NATS as its own user", () => {
    const docs = baseDocuments();
    for (const name of serviceNames) {
      const policy = docs.find((d) => d.kind === "NetworkPolicy" && d.metadata.name === name) as unknown as { spec: { ingress: { from?: unknown[] }[] } };
      const open = policy.spec.ingress.filter((rule) => rule.from === undefined);
      expect(open.length, name).toBe(name === pipeline.edge.service ? 1 : 0);
      const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === name) as unknown as { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } };
      expect(deployment.spec.template.spec.containers[0]!.env.find((e) => e.name === "NATS_USER")?.value, name).toBe(name);
    }
  });

  it("gives the NATS chart every user of the generated permissions, passwords from the secret", async () => {
    const [values] = loadAll(await import("node:fs/promises").then((fs) => fs.readFile(`${K8S_DIR}/nats/values.yaml`, "utf8"))) as [
      { config: { merge: { accounts: Record<string, { users: { user: string; password: string }[] }> } }; container: { env: Record<string, unknown> } },
    ];
    const users = values.config.merge.accounts.VERIFLOW!.users;
    expect(users.map((u) => u.user)).toEqual(natsUsers().map((u) => u.user));
    for (const u of natsUsers()) {
      expect(users.find((x) => x.user === u.user)?.password).toBe(`<< $${u.passwordVariable} >>`);
      expect(values.container.env[u.passwordVariable]).toEqual({ valueFrom: { secretKeyRef: { name: "veriflow-secrets", key: u.passwordVariable } } });
    }
  });

  describe.skipIf(!hasKubectl)("overlays, rendered by kubectl kustomize", () => {
    for (const overlay of ["local", "production"]) {
      it(`${overlay}: every rendered document validates`, async () => {
        const { stdout } = await run("kubectl", ["kustomize", `${K8S_DIR}/overlays/${overlay}`], { maxBuffer: 16 * 1024 * 1024 });
        const docs = loadAll(stdout) as Resource[];
        expect(docs.length).toBeGreaterThan(20);
        for (const doc of docs) {
          expect(() => validate(doc), `${doc.kind} ${doc.metadata.name}`).not.toThrow();
          expect((doc.metadata as { namespace?: string }).namespace, `${doc.kind} ${doc.metadata.name}`).toBe("veriflow");
        }
      });
    }
  });
});
