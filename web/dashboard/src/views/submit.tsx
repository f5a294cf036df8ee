import { useState } from "preact/hooks";
import { postJson } from "../api.js";
import { Card } from "../components.js";
import { formatBytes } from "../format.js";
import { useSendAndOpen } from "../send-and-open.js";

/**
 * Submits a file as the REST route takes it (multipart: the fields first, then the file, so a
 * bad field is refused before the file is sent) and opens the job's page to watch it.
 */
export function SubmitView() {
  const [file, setFile] = useState<File | null>(null);
  const [type, setType] = useState<"verify" | "proof">("verify");
  const [manifestURI, setManifestURI] = useState("");
  const [registryAddress, setRegistryAddress] = useState("");
  const [over, setOver] = useState(false);
  const { busy, error, setError, send } = useSendAndOpen();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return setError("Choose or drop a file first.");
    const form = new FormData();
    form.append("manifestURI", manifestURI.trim());
    form.append("registryAddress", registryAddress.trim());
    form.append("file", file, file.name);
    await send(async () => (await postJson<{ jobId: string }>(`/api/verification-jobs/${type}`, form)).jobId);
  };
  return (
    <div class="view narrow">
      <Card title="Submit a file for verification">
        <form onSubmit={(e) => void submit(e)} data-testid="submit-form">
          <label
            class={`drop ${over ? "over" : ""} ${file ? "has-file" : ""}`}
            data-testid="drop-zone"
            onDragOver={(e) => {
              e.preventDefault();
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={(e) => {
              e.preventDefault();
              setOver(false);
              const dropped = e.dataTransfer?.files[0];
              if (dropped) setFile(dropped);
            }}
          >
            <input type="file" class="visually-hidden" data-testid="file-input" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
            {file ? (
              <span data-testid="chosen-file">
                <strong>{file.name}</strong> · {formatBytes(file.size)}
              </span>
            ) : (
              <span>
                Drop a file here, or <u>choose one</u>
              </span>
            )}
          </label>
          <label class="field">
            <span>Job type</span>
            <select value={type} onChange={(e) => setType(e.currentTarget.value as "verify" | "proof")} data-testid="job-type">
              <option value="verify">verify — the verdict</option>
              <option value="proof">proof — the verdict and the registration transaction</option>
            </select>
          </label>
          <label class="field">
            <span>Manifest URI</span>
            <input required placeholder="ipfs://… or https://…" value={manifestURI} onInput={(e) => setManifestURI(e.currentTarget.value)} data-testid="manifest-uri" />
          </label>
          <label class="field">
            <span>Registry address</span>
            <input required placeholder="0x…" value={registryAddress} onInput={(e) => setRegistryAddress(e.currentTarget.value)} data-testid="registry-address" />
          </label>
          {error && (
            <div class="banner banner-error" role="alert" data-testid="error">
              {error}
            </div>
          )}
          <button class="button" type="submit" disabled={busy} data-testid="submit">
            {busy ? "Sending…" : "Submit and watch"}
          </button>
        </form>
      </Card>
    </div>
  );
}
