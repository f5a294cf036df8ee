// Minimal config for `hardhat node` started by libs/testing/src/chain.ts.
// Nothing is compiled with hardhat (contracts are built by libs/contracts with solc-js), so no
// compiler is ever downloaded; no plugins are loaded, for a fast start.
/** @type {import("hardhat/config").HardhatUserConfig} */
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      // No per-request log lines: they cost time on every eth_call.
      loggingEnabled: false,
      // The well-known dev mnemonic ("test test … junk"); 10 accounts derive faster than 20.
      accounts: { count: 10 },
    },
  },
};
