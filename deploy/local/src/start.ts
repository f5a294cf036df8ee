import { resolve } from "node:path";
import { NATS_INSTALL_HINT } from "@veriflow/testing";
import { JOBS_PATH } from "@veriflow/events";
import { redactUrl } from "@veriflow/platform";
import { startLocalStack } from "./local-stack.js";

// `npm start`: the whole system on one machine, on embedded defaults where nothing is configured.
const print = (line: string) => console.log(line);
const dataDir = resolve(process.env.VERIFLOW_DATA_DIR ?? "data");

let stack;
try {
  stack = await startLocalStack({ dataDir, env: process.env, print });
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  // The nats-server install hint is already a whole sentence; other errors get context.
  console.error(message === NATS_INSTALL_HINT ? `\n${message}` : `\nveriflow could not start: ${message}`);
  process.exit(1);
}

const key = process.env.API_KEYS?.split(",")[0];
const auth = key ? ` -H 'x-api-key: ${key}'` : "";
console.log(`
veriflow is running
  dashboard            ${stack.gatewayUrl}/dashboard/  (${key ? `enter the API key ${key}` : "open development access: leave the API key empty"})
  REST API (gateway)   ${stack.gatewayUrl}${JOBS_PATH}
  live updates (SSE)   ${stack.gatewayUrl}${JOBS_PATH}/<jobId>/events
  webhooks             ${stack.gatewayUrl}/api/webhooks
  gRPC                 submissions 127.0.0.1:${process.env.GATEWAY_GRPC_PORT ?? 50051}, jobs 127.0.0.1:${process.env.STATUS_GRPC_PORT ?? 50052} (reflection on)
  status service       ${stack.statusUrl}
  NATS                 ${redactUrl(stack.natsUrl)}${stack.natsPasswordsFile ? ` (log in as admin or subscriber: passwords in ${stack.natsPasswordsFile})` : ""}
  chain RPC            ${redactUrl(stack.rpcUrl)}
  metrics / health     ${Object.entries(stack.opsPorts).map(([name, ports]) => `${name} :${ports.join(" :")}`).join(", ")} (/metrics, /healthz, /readyz)
`);
if (stack.sample) {
  const s = stack.sample;
  console.log(`Verify the sample (registered on the local chain, manifest on the local IPFS gateway):

  curl -s${auth} -F registryAddress=${s.registry} -F manifestURI=${s.manifestUri} -F file=@${s.file} ${stack.gatewayUrl}${JOBS_PATH}/verify

then poll the pollUrl it answers:  curl -s${auth} ${stack.gatewayUrl}${JOBS_PATH}/<jobId>

or with the CLI (\`npx veriflow --help\`), which waits for the verdict:

  npx veriflow verify ${s.file} --manifest ${s.manifestUri} --registry ${s.registry}${stack.gatewayUrl === "http://127.0.0.1:3001" ? "" : ` --url ${stack.gatewayUrl}`} --wait

and publish a file of your own on the local chain:  npx veriflow dev publish <file>${dataDir === resolve("data") ? "" : ` --data-dir ${dataDir}`}
`);
}
console.log("Ctrl-C stops everything.\n");

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping veriflow…`);
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
