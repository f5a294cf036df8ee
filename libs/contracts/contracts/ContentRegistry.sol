// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ContentRegistry
/// @notice Maps a content hash (SHA-256 of the file bytes) to its creator, registration time and manifest URI.
/// @dev The contract of DOMAIN.md. `timestamp == 0` means "not registered"; a revoked entry keeps creator and
///      timestamp and has `manifestURI == ""`. Off-chain readers take the ABI from this one source.
contract ContentRegistry {
    struct Entry {
        address creator;
        uint64 timestamp;
        string manifestURI;
    }

    /// @notice content hash => entry
    mapping(bytes32 => Entry) public entries;

    /// @dev keccak256(abi.encodePacked(platform, ":", platformId)) => content hash
    mapping(bytes32 => bytes32) private platformBindings;

    event ContentRegistered(bytes32 indexed contentHash, address indexed creator, string manifestURI, uint64 timestamp);
    event ManifestUpdated(bytes32 indexed contentHash, string manifestURI, uint64 timestamp);
    event EntryRevoked(bytes32 indexed contentHash, uint64 timestamp);
    event PlatformBound(bytes32 indexed contentHash, string indexed platform, string platformId);

    error AlreadyRegistered(bytes32 contentHash);
    error NotRegistered(bytes32 contentHash);
    error NotCreator(bytes32 contentHash, address caller);
    /// @dev An empty URI means "revoked"; registering or updating to "" would be a silent revoke.
    error EmptyManifestURI();
    /// @dev bytes32(0) is no SHA-256 of anything in practice, and it marks "unbound" in platform bindings.
    error ZeroContentHash();
    error PlatformAlreadyBound(string platform, string platformId);

    modifier onlyCreator(bytes32 contentHash) {
        Entry storage e = entries[contentHash];
        if (e.timestamp == 0) revert NotRegistered(contentHash);
        if (e.creator != msg.sender) revert NotCreator(contentHash, msg.sender);
        _;
    }

    /// @notice Registers `contentHash` once, for `msg.sender`.
    function register(bytes32 contentHash, string calldata manifestURI) external {
        if (contentHash == bytes32(0)) revert ZeroContentHash();
        if (bytes(manifestURI).length == 0) revert EmptyManifestURI();
        Entry storage e = entries[contentHash];
        if (e.timestamp != 0) revert AlreadyRegistered(contentHash);
        uint64 ts = uint64(block.timestamp);
        e.creator = msg.sender;
        e.timestamp = ts;
        e.manifestURI = manifestURI;
        emit ContentRegistered(contentHash, msg.sender, manifestURI, ts);
    }

    /// @notice Replaces the manifest URI (creator only). Use `revoke` to clear it.
    function updateManifest(bytes32 contentHash, string calldata manifestURI) external onlyCreator(contentHash) {
        if (bytes(manifestURI).length == 0) revert EmptyManifestURI();
        entries[contentHash].manifestURI = manifestURI;
        emit ManifestUpdated(contentHash, manifestURI, uint64(block.timestamp));
    }

    /// @notice Revokes the entry (creator only): keeps creator and timestamp, clears the URI.
    function revoke(bytes32 contentHash) external onlyCreator(contentHash) {
        delete entries[contentHash].manifestURI;
        emit EntryRevoked(contentHash, uint64(block.timestamp));
    }

    /// @notice Binds a platform id (e.g. "youtube", "dQw4w9WgXcQ") to the hash, once (creator only).
    function bindPlatform(bytes32 contentHash, string calldata platform, string calldata platformId)
        external
        onlyCreator(contentHash)
    {
        bytes32 key = keccak256(abi.encodePacked(platform, ":", platformId));
        if (platformBindings[key] != bytes32(0)) revert PlatformAlreadyBound(platform, platformId);
        platformBindings[key] = contentHash;
        emit PlatformBound(contentHash, platform, platformId);
    }

    /// @notice The entry bound to a platform id; all zero when nothing is bound.
    function resolveByPlatform(string calldata platform, string calldata platformId)
        external
        view
        returns (address creator, bytes32 contentHash, string memory manifestURI, uint64 timestamp)
    {
        contentHash = platformBindings[keccak256(abi.encodePacked(platform, ":", platformId))];
        if (contentHash == bytes32(0)) return (address(0), bytes32(0), "", 0);
        Entry storage e = entries[contentHash];
        return (e.creator, contentHash, e.manifestURI, e.timestamp);
    }
}
