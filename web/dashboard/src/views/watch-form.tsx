import { useState } from "preact/hooks";
import { WATCHES_PATH } from "../../../../libs/events/src/jobs-api.js";
import { postJson } from "../api.js";
import { useSendAndOpen } from "../send-and-open.js";

/**
 * Follows a content hash from the watches table: no file, only what it is verified against
 * (JSON, as POST /api/watches takes it). Folded into a button until asked for. Opens the
 * watch's job page, as the submit form does: readable at once there, while the list shows
 * it once the status service has projected it.
 */
export function WatchForm() {
  const [open, setOpen] = useState(false);
  const [contentHash, setContentHash] = useState("");
  const [manifestURI, setManifestURI] = useState("");
  const [registryAddress, setRegistryAddress] = useState("");
  const { busy, error, send } = useSendAndOpen();
  if (!open) {
    return (
      <button class="button secondary" onClick={() => setOpen(true)} data-testid="new-watch">
        Watch a content hash
      </button>
    );
  }
  const create = async (e: Event) => {
    e.preventDefault();
    const fields = { contentHash: contentHash.trim(), manifestURI: manifestURI.trim(), registryAddress: registryAddress.trim() };
    await send(async () => (await postJson<{ watchId: string }>(WATCHES_PATH, fields)).watchId);
  };
  return (
    <form class="toolbar" onSubmit={(e) => void create(e)} data-testid="watch-form">
      <input required placeholder="Content hash (0x…)" aria-label="Content hash" value={contentHash} onInput={(e) => setContentHash(e.currentTarget.value)} data-testid="watch-content-hash" />
      <input required placeholder="Manifest URI" aria-label="Manifest URI" value={manifestURI} onInput={(e) => setManifestURI(e.currentTarget.value)} data-testid="watch-manifest-uri" />
      <input required placeholder="Registry address" aria-label="Registry address" value={registryAddress} onInput={(e) => setRegistryAddress(e.currentTarget.value)} data-testid="watch-registry-address" />
      <button class="button" type="submit" disabled={busy} data-testid="create-watch">
        {busy ? "Sending…" : "Watch"}
      </button>
      <button class="button secondary" type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {error && (
        <div class="banner banner-error" role="alert" data-testid="error">
          {error}
        </div>
      )}
    </form>
  );
}
