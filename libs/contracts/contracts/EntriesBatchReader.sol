// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ContentRegistry} from "./ContentRegistry.sol";

/// @title EntriesBatchReader
/// @notice A deployless batch reader: never deployed, only "run" by one `eth_call` with no `to` and
///         `data = bytecode ‖ abi.encode(registry, hashes)`. The constructor reads `registry.entries(h)`
///         for each hash and returns the results as the call's output (not as code).
/// @dev Output: `abi.encode(bool registryIsContract, ContentRegistry.Entry[] entries)`, decoded with the
///      output of `IEntriesBatchReaderOutput.read` below.
///      - `registryIsContract == false`: `registry` has no code; nothing was read.
///      - `entries[i]` is the entry of `hashes[i]`, for a prefix of `hashes`: the chain rejects creation
///        output above 24576 bytes (EIP-170), so the reader stops before that; the caller asks again for
///        the rest. An empty list means the first entry alone is too large: read it with `entries(h)`.
///      - A registry whose `entries` reverts or returns malformed data makes the whole call revert.
contract EntriesBatchReader {
    /// @dev EIP-170 limit on the bytes a constructor may return.
    uint256 private constant MAX_OUTPUT = 24576;
    /// @dev bool + offset of the array + array length.
    uint256 private constant HEAD_SIZE = 96;
    /// @dev per entry: offset in the array + creator, timestamp, offset of the string + string length.
    uint256 private constant ENTRY_SIZE = 160;

    constructor(address registry, bytes32[] memory hashes) {
        bytes memory out;
        if (registry.code.length == 0) {
            out = abi.encode(false, new ContentRegistry.Entry[](0));
        } else {
            out = abi.encode(true, readEntries(ContentRegistry(registry), hashes));
        }
        assembly {
            return(add(out, 32), mload(out))
        }
    }

    function readEntries(ContentRegistry registry, bytes32[] memory hashes)
        private
        view
        returns (ContentRegistry.Entry[] memory entries)
    {
        entries = new ContentRegistry.Entry[](hashes.length);
        uint256 size = HEAD_SIZE;
        uint256 n = 0;
        for (; n < hashes.length; n++) {
            (address creator, uint64 timestamp, string memory uri) = registry.entries(hashes[n]);
            size += ENTRY_SIZE + ((bytes(uri).length + 31) / 32) * 32;
            if (size > MAX_OUTPUT) break;
            entries[n] = ContentRegistry.Entry(creator, timestamp, uri);
        }
        assembly {
            mstore(entries, n) // keep the prefix that fits
        }
    }
}

/// @notice The shape of EntriesBatchReader's output, for ABI decoding only (nothing implements it).
interface IEntriesBatchReaderOutput {
    function read() external view returns (bool registryIsContract, ContentRegistry.Entry[] memory entries);
}
