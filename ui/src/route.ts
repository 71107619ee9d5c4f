// route.ts - the URL is the state: every page and its settings live in the
// hash, in the shapes MLflow's own UI uses, so the links MLflow's client
// prints ("View run at http://host/#/experiments/3/runs/<id>") open the right
// page, and back/forward walk through what the user did.

export type Route =
  | { page: "experiments"; q: Query }
  | { page: "runs"; experimentId: string; q: Query }
  | { page: "run"; experimentId: string; runId: string; tab: string; artifact: string; q: Query }
  | { page: "compare"; runIds: string[]; experimentIds: string[]; q: Query }
  | { page: "models"; q: Query }
  | { page: "model"; name: string; q: Query }
  | { page: "version"; name: string; version: string; q: Query }
  | { page: "monitors"; q: Query }
  | { page: "deployments"; q: Query }
  | { page: "notfound"; path: string; q: Query };

export type Query = Record<string, string>;

const RUN_TABS = ["overview", "metrics", "artifacts"];

function parseQuery(s: string): Query {
  const q: Query = {};
  for (const [k, v] of new URLSearchParams(s)) q[k] = v;
  return q;
}

function formatQuery(q: Query): string {
  const keys = Object.keys(q).filter((k) => q[k] !== "" && q[k] !== undefined).sort();
  if (!keys.length) return "";
  const p = new URLSearchParams();
  for (const k of keys) p.set(k, q[k]);
  return "?" + p.toString();
}

// MLflow writes lists into compare URLs as JSON arrays: runs=["a","b"].
function parseList(s: string | undefined): string[] {
  if (!s) return [];
  try {
    const v = JSON.parse(s);
    if (Array.isArray(v)) return v.map(String);
  } catch {
    /* fall through: a comma-separated list */
  }
  return s.split(",").filter(Boolean);
}

/** Parse a location hash ("#/experiments/3/runs?filter=...") into a route. */
export function parseHash(hash: string): Route {
  let h = hash.startsWith("#") ? hash.slice(1) : hash;
  if (!h.startsWith("/")) h = "/" + h;
  const qi = h.indexOf("?");
  const path = qi < 0 ? h : h.slice(0, qi);
  const q = parseQuery(qi < 0 ? "" : h.slice(qi + 1));
  const seg = path.split("/").filter(Boolean).map(decodeURIComponent);

  if (seg.length === 0 || (seg[0] === "experiments" && seg.length === 1)) return { page: "experiments", q };
  if (seg[0] === "experiments") {
    const experimentId = seg[1];
    if (seg.length === 2 || (seg.length === 3 && seg[2] === "runs")) return { page: "runs", experimentId, q };
    if (seg[2] === "runs" && seg.length >= 4) {
      const runId = seg[3];
      let tab = seg[4] ?? "overview";
      let artifact = "";
      if (tab === "artifacts") artifact = seg.slice(5).join("/");
      else if (tab === "model-metrics" || tab === "system-metrics") tab = "metrics";
      else if (!RUN_TABS.includes(tab)) tab = "overview";
      return { page: "run", experimentId, runId, tab, artifact, q };
    }
  }
  if (seg[0] === "compare-runs") {
    const { runs, experiments, ...rest } = q;
    return { page: "compare", runIds: parseList(runs), experimentIds: parseList(experiments), q: rest };
  }
  if (seg[0] === "models") {
    if (seg.length === 1) return { page: "models", q };
    if (seg.length === 2) return { page: "model", name: seg[1], q };
    if (seg[2] === "versions" && seg.length >= 4) return { page: "version", name: seg[1], version: seg[3], q };
  }
  if (seg[0] === "monitors") return { page: "monitors", q };
  if (seg[0] === "deployments") return { page: "deployments", q };
  return { page: "notfound", path, q };
}

const enc = encodeURIComponent;

/** The hash for a route: parseHash(formatHash(r)) gives r back. */
export function formatHash(r: Route): string {
  switch (r.page) {
    case "experiments":
      return "#/experiments" + formatQuery(r.q);
    case "runs":
      return `#/experiments/${enc(r.experimentId)}/runs` + formatQuery(r.q);
    case "run": {
      let p = `#/experiments/${enc(r.experimentId)}/runs/${enc(r.runId)}`;
      if (r.tab === "artifacts") p += "/artifacts" + (r.artifact ? "/" + r.artifact.split("/").map(enc).join("/") : "");
      else if (r.tab !== "overview") p += "/" + r.tab;
      return p + formatQuery(r.q);
    }
    case "compare":
      return (
        "#/compare-runs" +
        formatQuery({ ...r.q, runs: JSON.stringify(r.runIds), experiments: JSON.stringify(r.experimentIds) })
      );
    case "models":
      return "#/models" + formatQuery(r.q);
    case "model":
      return `#/models/${enc(r.name)}` + formatQuery(r.q);
    case "version":
      return `#/models/${enc(r.name)}/versions/${enc(r.version)}` + formatQuery(r.q);
    case "monitors":
      return "#/monitors" + formatQuery(r.q);
    case "deployments":
      return "#/deployments" + formatQuery(r.q);
    case "notfound":
      return "#" + r.path + formatQuery(r.q);
  }
}

/** The same route with some query keys changed ("" removes one). */
export function withQuery<R extends Route>(r: R, changes: Query): R {
  const q = { ...r.q };
  for (const [k, v] of Object.entries(changes)) {
    if (v === "") delete q[k];
    else q[k] = v;
  }
  return { ...r, q };
}
