// Preloaded into `hardhat node` by libs/testing/src/chain.ts: the node exits when the process that
// started it is gone (a test worker killed before its afterAll), instead of living on as an orphan.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
