/**
 * The Kubernetes base, as objects derived from the pipeline descriptor: one Deployment, PDB,
 * NetworkPolicy (and Service, and ScaledObject for a stage or the gateway) per service, the
 * setup Job, the shared config. generate-k8s.ts writes them as YAML; the test validates each
 * against the Kubernetes and KEDA schemas (kubernetes-models).
 */
// The descriptor from source, as the tests read it (not a possibly stale dist/).
import { NATS_ACCOUNT, natsPasswordVariable, opsPortOf, pipeline, serviceNames, stageDurables, STREAM_NAME, type ServiceName } from "../../../libs/events/src/index.js";

export type Resource = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> } } & Record<string, unknown>;

/** The image every service runs (deploy/Dockerfile); overlays set its registry and tag. */
export const IMAGE = "veriflow";
const PART_OF = "veriflow";
/** The NATS cluster's client and monitoring addresses (the official chart's service, release `nats`). */
export const NATS_URL = "nats://nats:4222";
export const NATS_MONITORING = "nats.veriflow.svc.cluster.local:8222";

/** The public ports of the services that have them (their config defaults). */
const PUBLIC_PORTS: Partial<Record<ServiceName, { name: string; port: number }[]>> = {
  gateway: [
    { name: "http", port: 3001 },
    { name: "grpc", port: 50051 },
  ],
  status: [
    { name: "http", port: 3002 },
    { name: "grpc", port: 50052 },
  ],
  webhooks: [{ name: "http", port: 3003 }],
};

/** Who keeps state in PostgreSQL (their API keys or tables): they get DATABASE_URL. */
const USES_DATABASE = new Set<ServiceName>(["gateway", "status", "webhooks"]);

/** Requests size a pod for the scheduler and are what the gateway's CPU scaling is measured against. */
const RESOURCES = {
  requests: { cpu: "250m", memory: "256Mi" },
  limits: { cpu: "2", memory: "512Mi" },
};

const labelsOf = (component: string) => ({ "app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF });
const selectorOf = (component: string) => ({ "app.kubernetes.io/name": component });

const secretEnv = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: "veriflow-secrets", key } } });

/** The environment every container of veriflow's shares, then its own. */
function envOf(service: ServiceName): Record<string, unknown>[] {
  return [
    { name: "NATS_USER", value: service },
    secretEnv("NATS_PASSWORD", natsPasswordVariable(service)),
    { name: "OPS_PORT", value: String(opsPortOf(service)) },
    ...(USES_DATABASE.has(service) ? [secretEnv("DATABASE_URL", "DATABASE_URL")] : []),
    ...(service === "gateway" || service === "status" || service === "webhooks" ? [secretEnv("API_KEYS", "API_KEYS")] : []),
    ...(service === "webhooks" ? [secretEnv("WEBHOOK_SECRETS_KEY", "WEBHOOK_SECRETS_KEY")] : []),
    ...(service === "gateway" ? [{ name: "STATUS_URL", value: "http://status:3002" }, { name: "WEBHOOKS_URL", value: "http://webhooks:3003" }] : []),
  ];
}

const securityContext = {
  runAsNonRoot: true,
  runAsUser: 1000,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

function deployment(service: ServiceName): Resource {
  const ops = opsPortOf(service);
  const probe = (path: string, extra: Record<string, number>) => ({ httpGet: { path, port: "ops" }, ...extra });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: service, labels: labelsOf(service) },
    spec: {
      replicas: 2,
      selector: { matchLabels: selectorOf(service) },
      template: {
        metadata: {
          labels: labelsOf(service),
          annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(ops), "prometheus.io/path": "/metrics" },
        },
        spec: {
          // Long enough for the service's own drain (stop pulling, finish work in hand, 15 s).
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: service,
              image: IMAGE,
              command: ["node", `services/${service}/dist/main.js`],
              envFrom: [{ configMapRef: { name: "veriflow-config" } }],
              env: envOf(service),
              ports: [...(PUBLIC_PORTS[service] ?? []).map((p) => ({ name: p.name, containerPort: p.port })), { name: "ops", containerPort: ops }],
              // Ready: NATS connected, its consumer answering (and PostgreSQL, where it has one).
              readinessProbe: probe("/readyz", { periodSeconds: 5, failureThreshold: 3 }),
              // Alive: the event loop answers. Never the dependencies: a NATS outage is not a reason to restart.
              livenessProbe: probe("/healthz", { periodSeconds: 10, failureThreshold: 6 }),
              // A start waits for JetStream for up to 2 minutes (whileUnavailable).
              startupProbe: probe("/healthz", { periodSeconds: 5, failureThreshold: 30 }),
              resources: RESOURCES,
              securityContext,
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
}

function service(name: ServiceName): Resource | null {
  const ports = PUBLIC_PORTS[name];
  if (!ports) return null;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels: labelsOf(name) },
    spec: { selector: selectorOf(name), ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name })) },
  };
}

function disruptionBudget(name: ServiceName): Resource {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name, labels: labelsOf(name) },
    // A drained node never takes the last replica: work in hand is given back, not stranded.
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorOf(name) } },
  };
}

/**
 * Who may connect to a service: the gateway's public ports from anywhere (the only way in);
 * status and webhooks only from the gateway, which forwards their routes; every ops port from
 * the monitoring namespace (Prometheus). Stages take no connections at all: they pull from NATS.
 * (Probes come from the kubelet, which NetworkPolicy does not filter.)
 */
function networkPolicy(name: ServiceName): Resource {
  const ports = PUBLIC_PORTS[name] ?? [];
  const fromGateway = { podSelector: { matchLabels: selectorOf(pipeline.edge.service) } };
  const publicRule =
    ports.length === 0
      ? []
      : [{ ports: ports.map((p) => ({ port: p.port, protocol: "TCP" })), ...(name === pipeline.edge.service ? {} : { from: [fromGateway] }) }];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, labels: labelsOf(name) },
    spec: {
      podSelector: { matchLabels: selectorOf(name) },
      policyTypes: ["Ingress"],
      ingress: [
        ...publicRule,
        { ports: [{ port: opsPortOf(name), protocol: "TCP" }], from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }] },
      ],
    },
  };
}

/**
 * A stage scales on its consumers' lag (KEDA's nats-jetstream scaler reads the NATS cluster's
 * monitoring endpoint): one replica per 100 messages waiting, at least 1, and back to 1 when
 * idle. The gateway scales on CPU. Status and webhooks keep their two replicas.
 */
function scaledObject(name: ServiceName): Resource | null {
  const stage = pipeline.stages.find((s) => s.service === name);
  const base = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name, labels: labelsOf(name) } };
  if (stage) {
    return {
      ...base,
      spec: {
        scaleTargetRef: { name },
        minReplicaCount: 1,
        maxReplicaCount: 10,
        cooldownPeriod: 120,
        // One trigger per priority class (each its own consumer): KEDA scales to the larger demand.
        triggers: stageDurables(stage.service).map((consumer) => ({
          type: "nats-jetstream",
          metadata: {
            natsServerMonitoringEndpoint: NATS_MONITORING,
            account: NATS_ACCOUNT,
            stream: STREAM_NAME,
            consumer,
            lagThreshold: "100",
            activationLagThreshold: "1",
            useHttps: "false",
          },
        })),
      },
    };
  }
  if (name === pipeline.edge.service) {
    return {
      ...base,
      spec: {
        scaleTargetRef: { name },
        minReplicaCount: 2,
        maxReplicaCount: 10,
        triggers: [{ type: "cpu", metricType: "Utilization", metadata: { value: "70" } }],
      },
    };
  }
  return null;
}

/** One run of `veriflow setup` per rollout, as the NATS admin user: the services only check. */
function setupJob(): Resource {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "veriflow-setup", labels: labelsOf("setup") },
    spec: {
      backoffLimit: 6,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: labelsOf("setup") },
        spec: {
          restartPolicy: "OnFailure",
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "setup",
              image: IMAGE,
              command: ["node", "cli/bin/veriflow.js", "setup"],
              envFrom: [{ configMapRef: { name: "veriflow-config" } }],
              env: [{ name: "NATS_USER", value: "admin" }, secretEnv("NATS_PASSWORD", natsPasswordVariable("admin")), secretEnv("DATABASE_URL", "DATABASE_URL")],
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "256Mi" } },
              securityContext,
            },
          ],
        },
      },
    },
  };
}

/** What every container reads: where NATS is, that setup owns the topology, production rules. */
function config(): Resource {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "veriflow-config", labels: { "app.kubernetes.io/part-of": PART_OF } },
    data: {
      NODE_ENV: "production",
      NATS_URL,
      NATS_TOPOLOGY: "check",
      STREAM_REPLICAS: "3",
      LOG_LEVEL: "info",
      OPS_HOST: "0.0.0.0",
    },
  };
}

/** Every resource of the base, in a stable order, each with the file it is written to. */
export function baseResources(): { file: string; resources: Resource[] }[] {
  return [
    { file: "config.yaml", resources: [config()] },
    { file: "setup-job.yaml", resources: [setupJob()] },
    ...serviceNames.map((name) => ({
      file: `${name}.yaml`,
      resources: [deployment(name), service(name), disruptionBudget(name), networkPolicy(name), scaledObject(name)].filter((r): r is Resource => r !== null),
    })),
  ];
}
