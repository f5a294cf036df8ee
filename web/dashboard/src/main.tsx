import { render } from "preact";
import { useState } from "preact/hooks";
import { ApiError, describeError, getJson, storeKey, storedKey } from "./api.js";
import { Link } from "./components.js";
import { useRoute, type Route } from "./router.js";
import "./style.css";
import { DeadLettersView } from "./views/dead-letters.js";
import { JobView } from "./views/job.js";
import { JobsView } from "./views/jobs.js";
import { PipelineView } from "./views/pipeline.js";
import { SubmitView } from "./views/submit.js";
import { WatchesView } from "./views/watches.js";

/** Asks for an API key and checks it (a read of the stats) before keeping it for this tab. */
function KeyForm({ onKey }: { onKey: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    storeKey(key.trim());
    try {
      await getJson("/api/verification-jobs/stats");
      onKey();
    } catch (err) {
      storeKey(null);
      setError(err instanceof ApiError && err.status === 403 ? "This key lacks the read scope the dashboard needs." : describeError(err));
    }
  };
  return (
    <div class="login">
      <form class="card login-card" onSubmit={(e) => void submit(e)} data-testid="key-form">
        <h1>
          veriflow <span class="muted">dashboard</span>
        </h1>
        <p class="muted">
          Enter an API key. It is kept in this tab only (sessionStorage) and sent as the x-api-key header; the page shows that key's tenant. Leave it empty on a
          system with open development access (no keys configured).
        </p>
        <input type="password" autoComplete="off" placeholder="API key" value={key} onInput={(e) => setKey(e.currentTarget.value)} data-testid="api-key" />
        {error && (
          <div class="banner banner-error" role="alert" data-testid="error">
            {error}
          </div>
        )}
        <button class="button" type="submit" data-testid="sign-in">
          Open dashboard
        </button>
        <p class="muted small">
          With <code>npm start</code>, the key is printed at start-up. Otherwise: <code>veriflow keys create --scopes read,submit,admin</code>.
        </p>
      </form>
    </div>
  );
}

const NAV: { route: Route; label: string }[] = [
  { route: { name: "jobs" }, label: "Jobs" },
  { route: { name: "watches" }, label: "Watches" },
  { route: { name: "pipeline" }, label: "Pipeline" },
  { route: { name: "dead-letters", seq: null }, label: "Dead letters" },
  { route: { name: "submit" }, label: "Submit" },
];

function Page({ route }: { route: Route }) {
  switch (route.name) {
    case "job":
      return <JobView jobId={route.jobId} />;
    case "watches":
      return <WatchesView />;
    case "pipeline":
      return <PipelineView />;
    case "dead-letters":
      return <DeadLettersView seq={route.seq} />;
    case "submit":
      return <SubmitView />;
    default:
      return <JobsView />;
  }
}

function App() {
  const route = useRoute();
  const [hasKey, setHasKey] = useState(() => storedKey() !== null);
  if (!hasKey) return <KeyForm onKey={() => setHasKey(true)} />;
  const current = route.name === "job" ? "jobs" : route.name;
  return (
    <div class="app">
      <nav class="nav">
        <span class="brand">veriflow</span>
        {NAV.map((n) => (
          <Link to={n.route} class={n.route.name === current ? "active" : ""} testid={`nav-${n.route.name}`}>
            {n.label}
          </Link>
        ))}
        <span class="spacer" />
        <button
          class="button ghost"
          data-testid="sign-out"
          onClick={() => {
            storeKey(null);
            setHasKey(false);
          }}
        >
          Change key
        </button>
      </nav>
      <main>
        <Page route={route} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
