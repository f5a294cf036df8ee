import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { findFreePort, waitForPort } from "./free-port.js";

export interface DevAccount {
  address: string;
  privateKey: string;
}

export interface ChainHandle {
  rpcUrl: string;
  chainId: number;
  /** Funded dev accounts (10000 ETH each); index 0 usually deploys. */
  accounts: DevAccount[];
  stop(): Promise<void>;
}

export interface StartChainOptions {
  port?: number;
}

export const CHAIN_ID = 31337;

/** The publicly known accounts of the dev mnemonic "test test … junk" that `hardhat node` funds. */
export const DEV_ACCOUNTS: readonly DevAccount[] = Object.freeze([
  { address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", privateKey: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" },
  { address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", privateKey: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" },
  { address: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", privateKey: "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a" },
  { address: "0x90F79bf6EB2c4f870365E785982E1f101E93b906", privateKey: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6" },
  { address: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", privateKey: "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a" },
  { address: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc", privateKey: "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba" },
  { address: "0x976EA74026E726554dB657fA54763abd0C3a0aa9", privateKey: "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e" },
  { address: "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955", privateKey: "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356" },
  { address: "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f", privateKey: "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97" },
  { address: "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720", privateKey: "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6" },
]);

// src/chain.ts and dist/chain.js both sit next to ../hardhat/.
const configFile = fileURLToPath(new URL("../hardhat/hardhat.config.cjs", import.meta.url));
const exitWithParent = fileURLToPath(new URL("../hardhat/exit-with-parent.cjs", import.meta.url));
const hardhatCli = createRequire(import.meta.url).resolve("hardhat/internal/cli/bootstrap.js");

/**
 * Starts `hardhat node` (hardhat 2, automine: every transaction mines its own block) on a free port,
 * chainId 31337, with the minimal config of libs/testing/hardhat. Starts in about a second.
 */
export async function startChain(opts: StartChainOptions = {}): Promise<ChainHandle> {
  // A free port can be taken between the probe and hardhat's bind: try another one then.
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await findFreePort());
    try {
      const child = await launch(port);
      return handle(child, port);
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3 || !String(err).includes("EADDRINUSE")) throw err;
    }
  }
}

async function launch(port: number): Promise<ChildProcess> {
  const args = ["--require", exitWithParent, hardhatCli, "--config", configFile, "node", "--hostname", "127.0.0.1", "--port", String(port)];
  const child = spawn(process.execPath, args, {
    cwd: dirname(configFile),
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const failed = new Promise<never>((_, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`hardhat node exited (${code}): ${output}`)));
  });
  failed.catch(() => {});
  try {
    await Promise.race([waitForPort(port, "127.0.0.1", 60_000), failed]);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return child;
}

function handle(child: ChildProcess, port: number): ChainHandle {
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit); // never leave a node behind a crashed test run
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    chainId: CHAIN_ID,
    accounts: DEV_ACCOUNTS.map((a) => ({ ...a })),
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      });
    },
  };
}
