// models.ts - the registry: registered models, a model's versions with
// aliases, stages and tags, and one version's lineage (its source run, the
// datasets and digests that run used, the git commit, the parent pipeline
// run), its promotion records and the audit log.

import { api, type ModelVersion, type RegisteredModel, type Run } from "../api";
import { h, clear } from "../dom";
import { fmtTime, fmtNum } from "../format";
import { quoteValue } from "../filter";
import { formatHash, withQuery, type Route } from "../route";
import type { PageContext } from "../page";
import { runName, tagOf } from "./runs";

interface AuditEntry {
  time: number;
  user?: string;
  action: string;
  model: string;
  version?: string;
  alias?: string;
  details?: unknown;
}

const vhref = (name: string, version: string) => formatHash({ page: "version", name, version, q: {} });
const runHref = (run: { experiment_id: string; run_id: string }) =>
  formatHash({ page: "run", experimentId: run.experiment_id, runId: run.run_id, tab: "overview", artifact: "", q: {} });

function aliasesOf(m: RegisteredModel, version: string): string[] {
  return (m.aliases ?? []).filter((a) => a.version === version).map((a) => a.alias);
}

export async function modelsPage(r: Extract<Route, { page: "models" }>, ctx: PageContext): Promise<void> {
  ctx.title("Models");
  const search = h("input.search", { type: "search", placeholder: "Search models by name", "aria-label": "Search models by name", value: r.q.q ?? "" }) as HTMLInputElement;
  search.addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key === "Enter") ctx.go(withQuery(r, { q: search.value.trim() }));
  });
  const list = h("div.list", h("p.loading", "loading…"));
  ctx.el.append(h("div.page-head", h("h1", "Registered models")), h("div.toolbar", search), list);
  const res = await api.searchModels({ filter: r.q.q ? `name LIKE ${quoteValue("%" + r.q.q + "%")}` : undefined });
  if (!ctx.live()) return;
  clear(list);
  const ms = res.registered_models ?? [];
  if (!ms.length) {
    list.append(h("p.empty", r.q.q ? "No model matches." : "No registered models yet: `cairn models log --register` or MLflow's register_model adds one."));
    return;
  }
  list.append(
    h("table.grid.models",
      h("thead", h("tr", h("th", "Name"), h("th", "Latest version"), h("th", "Aliases"), h("th", "Last update"), h("th", "Description"))),
      h("tbody", ...ms.map((m) => {
        const latest = (m.latest_versions ?? []).reduce<ModelVersion | null>((a, v) => (!a || Number(v.version) > Number(a.version) ? v : a), null);
        return h("tr", { "data-name": m.name },
          h("td", h("a", { href: formatHash({ page: "model", name: m.name, q: {} }) }, m.name)),
          h("td", latest ? h("a", { href: vhref(m.name, latest.version) }, `v${latest.version}`) : ""),
          h("td", ...(m.aliases ?? []).map((a) => h("span.chip.alias", `@${a.alias} → v${a.version}`))),
          h("td", fmtTime(m.last_updated_timestamp)),
          h("td", m.description ?? ""));
      }))),
  );
}

async function audit(name: string, version?: string): Promise<HTMLElement> {
  try {
    const { entries } = await api.cairn<{ entries?: AuditEntry[] }>("GET", "/registry/audit", undefined, { name, max_results: "200" });
    const es = (entries ?? []).filter((e) => !version || e.version === version);
    if (!es.length) return h("p.empty", "No audit entries.");
    return h("table.grid.audit",
      h("thead", h("tr", h("th", "Time"), h("th", "User"), h("th", "Action"), h("th", "Version"), h("th", "Alias"), h("th", "Details"))),
      h("tbody", ...es.map((e) => h("tr", { class: e.action === "promote_rejected" ? "rejected" : "" },
        h("td", fmtTime(e.time)), h("td", e.user ?? ""), h("td", e.action), h("td", e.version ?? ""), h("td", e.alias ?? ""),
        h("td", detailsOf(e.details))))));
  } catch (e) {
    return h("p.field-error", `the audit log could not be read: ${(e as Error).message}`);
  }
}

/** A promotion's checks as a list (each passed or not), anything else as JSON. */
function detailsOf(d: unknown): Node | string {
  if (d === undefined || d === null) return "";
  const o = d as { checks?: { expr?: string; passed?: boolean; value?: number; message?: string }[] };
  if (Array.isArray(o.checks))
    return h("ul.checks", ...o.checks.map((c) => h(`li.${c.passed ? "pass" : "fail"}`, `${c.passed ? "✓" : "✗"} ${c.expr ?? ""}${c.value !== undefined ? ` (${fmtNum(c.value)})` : ""}${c.message ? `: ${c.message}` : ""}`)));
  return h("code", typeof d === "string" ? d : JSON.stringify(d));
}

export async function modelPage(r: Extract<Route, { page: "model" }>, ctx: PageContext): Promise<void> {
  const [{ registered_model: m }, vs] = await Promise.all([api.getModel(r.name), api.searchVersions(r.name)]);
  if (!ctx.live()) return;
  ctx.title(m.name);
  const versions = (vs.model_versions ?? []).sort((a, b) => Number(b.version) - Number(a.version));
  ctx.el.append(
    h("div.page-head", h("div.crumbs", h("a", { href: "#/models" }, "Models"), " / "), h("h1", m.name)),
    m.description ? h("p", m.description) : "",
    h("div.chips", ...(m.tags ?? []).map((t) => h("span.chip", `${t.key}=${t.value}`))),
    h("section", h("h2", `Versions (${versions.length})`),
      h("table.grid.versions",
        h("thead", h("tr", h("th", "Version"), h("th", "Aliases"), h("th", "Stage"), h("th", "Created"), h("th", "Source run"), h("th", "Tags"), h("th", "Status"))),
        h("tbody", ...versions.map((v) => h("tr", { "data-version": v.version },
          h("td", h("a", { href: vhref(m.name, v.version) }, `v${v.version}`)),
          h("td", ...aliasesOf(m, v.version).map((a) => h("span.chip.alias", "@" + a))),
          h("td", v.current_stage ?? ""),
          h("td", fmtTime(v.creation_timestamp)),
          h("td.mono", v.run_id ? v.run_id.slice(0, 12) : ""),
          h("td", ...(v.tags ?? []).filter((t) => !t.key.startsWith("cairn.promotion.")).map((t) => h("span.chip", `${t.key}=${t.value}`))),
          h("td", v.status ?? "")))))),
    h("section", h("h2", "Audit log"), await audit(m.name)),
  );
}

export async function versionPage(r: Extract<Route, { page: "version" }>, ctx: PageContext): Promise<void> {
  const [{ model_version: v }, { registered_model: m }] = await Promise.all([api.getVersion(r.name, r.version), api.getModel(r.name)]);
  if (!ctx.live()) return;
  ctx.title(`${v.name} v${v.version}`);
  let run: Run | null = null;
  if (v.run_id) run = (await api.getRun(v.run_id).catch(() => null))?.run ?? null;
  const promos = (v.tags ?? []).filter((t) => t.key.startsWith("cairn.promotion."));
  const facts: [string, Node | string][] = [
    ["Aliases", h("span", ...aliasesOf(m, v.version).map((a) => h("span.chip.alias", "@" + a)))],
    ["Stage", v.current_stage ?? ""],
    ["Status", v.status ?? ""],
    ["Created", fmtTime(v.creation_timestamp)],
    ["Source", h("span.mono", v.source ?? "")],
    ["Source run", run ? h("a", { href: runHref(run.info) }, runName(run)) : v.run_id ?? "—"],
  ];
  if (v.description) facts.push(["Description", v.description]);
  ctx.el.append(
    h("div.page-head", h("div.crumbs", h("a", { href: "#/models" }, "Models"), " / ", h("a", { href: formatHash({ page: "model", name: v.name, q: {} }) }, v.name), " / "), h("h1", `Version ${v.version}`)),
    h("table.grid.kv.version-facts", h("tbody", ...facts.map(([k, val]) => h("tr", h("th", { scope: "row" }, k), h("td", val))))),
    h("section", h("h2", "Tags"), (v.tags ?? []).length ? h("div.chips", ...(v.tags ?? []).filter((t) => !t.key.startsWith("cairn.promotion.")).map((t) => h("span.chip", `${t.key}=${t.value}`))) : h("p.empty", "No tags.")),
  );
  // lineage: what the source run used and where it came from
  const lin = h("section.lineage", h("h2", "Lineage"));
  if (!run) lin.append(h("p.empty", "The source run is not in this tracking server."));
  else {
    const commit = tagOf(run, "mlflow.source.git.commit");
    const parent = tagOf(run, "mlflow.parentRunId");
    const ds = run.inputs?.dataset_inputs ?? [];
    lin.append(
      h("table.grid.kv", h("tbody",
        h("tr", h("th", "Git commit"), h("td.mono", commit ?? "—")),
        h("tr", h("th", "Source"), h("td.mono", tagOf(run, "mlflow.source.name") ?? "—")),
        h("tr", h("th", "Pipeline run"), h("td", parent ? h("a", { href: runHref({ experiment_id: run.info.experiment_id, run_id: parent }) }, parent) : "—")),
        h("tr", h("th", "Stage"), h("td", tagOf(run, "cairn.stage") ?? "—")))),
      ds.length
        ? h("table.grid.datasets", h("thead", h("tr", h("th", "Dataset"), h("th", "Digest"), h("th", "Source"))),
            h("tbody", ...ds.map((d) => h("tr", h("td", d.dataset.name), h("td.mono", d.dataset.digest), h("td.mono", d.dataset.source ?? "")))))
        : h("p.empty", "The source run logged no datasets."),
    );
  }
  ctx.el.append(lin);
  ctx.el.append(
    h("section", h("h2", "Promotions"),
      promos.length ? h("table.grid.kv.promotions", h("tbody", ...promos.map((t) => h("tr", h("th", t.key.slice("cairn.promotion.".length)), h("td.mono", t.value))))) : h("p.empty", "Never promoted.")),
    h("section", h("h2", "Audit log"), await audit(v.name, v.version)),
  );
}
