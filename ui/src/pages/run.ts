// run.ts - one run: overview (params, latest metrics, tags, datasets,
// parent and child runs), metric charts (x by step, wall or relative time,
// log scale, smoothing, system metrics apart), and the artifact tree with
// previews of text, JSON, YAML, MLmodel, CSV (as a table) and images.

import { api, artifactUrl, num, type Run, type FileInfo } from "../api";
import { h, clear } from "../dom";
import { fmtNum, fmtTime, fmtDuration, fmtBytes } from "../format";
import { formatHash, withQuery, type Route } from "../route";
import { MetricChart, chartGrid, color, type ChartOptions } from "../chart";
import { parseCsv } from "../csv";
import type { PageContext, Mounted } from "../page";
import type { XMode } from "../sample";
import { runName, tagOf } from "./runs";
import { pipelineSection } from "./pipeline";

type R = Extract<Route, { page: "run" }>;

export function chartOptions(q: Record<string, string>): ChartOptions {
  const x = q.x as XMode;
  return {
    xmode: x === "wall" || x === "relative" ? x : "step",
    log: q.log === "1",
    smoothing: Math.min(0.99, Math.max(0, Number(q.smooth ?? 0) || 0)),
  };
}

/** The toolbar that sets a chart page's x axis, log scale and smoothing in the URL. */
export function chartControls<T extends Route>(r: T, ctx: PageContext): HTMLElement {
  const o = chartOptions(r.q);
  const xs = h("select", { "aria-label": "x axis" }, ...(["step", "wall", "relative"] as const).map((m) => h("option", { value: m, selected: o.xmode === m }, m === "wall" ? "wall time" : m === "relative" ? "relative time" : "step"))) as HTMLSelectElement;
  xs.addEventListener("change", () => ctx.go(withQuery(r, { x: xs.value === "step" ? "" : xs.value }), true));
  const log = h("input", { type: "checkbox", checked: o.log }) as HTMLInputElement;
  log.addEventListener("change", () => ctx.go(withQuery(r, { log: log.checked ? "1" : "" }), true));
  const sm = h("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: o.smoothing, "aria-label": "Smoothing" }) as HTMLInputElement;
  const smv = h("span.mono", o.smoothing.toFixed(2));
  sm.addEventListener("input", () => (smv.textContent = Number(sm.value).toFixed(2)));
  sm.addEventListener("change", () => ctx.go(withQuery(r, { smooth: Number(sm.value) ? sm.value : "" }), true));
  return h("div.toolbar.chart-controls", h("label", "x: ", xs), h("label.check", log, " log scale"), h("label", "smoothing ", sm, " ", smv));
}

export async function runPage(r: R, ctx: PageContext): Promise<Mounted> {
  const { run } = await api.getRun(r.runId);
  if (!ctx.live()) return {};
  const name = runName(run);
  ctx.title(name);
  const i = run.info;
  const exp = await api.getExperiment(i.experiment_id).catch(() => null);
  const tab = (t: string, label: string) =>
    h("a", { href: formatHash({ ...r, tab: t, artifact: "", q: t === "metrics" ? r.q : {} }), class: r.tab === t ? "active" : "", role: "tab", "aria-selected": String(r.tab === t) }, label);
  const end = i.end_time || (i.status === "RUNNING" ? Date.now() : undefined);
  ctx.el.append(
    h(
      "div.page-head",
      h("div.crumbs", h("a", { href: "#/experiments" }, "Experiments"), " / ", h("a", { href: formatHash({ page: "runs", experimentId: i.experiment_id, q: {} }) }, exp?.experiment.name ?? i.experiment_id), " / "),
      h("h1", name),
      h(`span.badge.s-${i.status.toLowerCase()}`, i.status.toLowerCase()),
    ),
    h(
      "dl.facts",
      h("dt", "Run ID"), h("dd.mono", i.run_id),
      h("dt", "Started"), h("dd", fmtTime(i.start_time)),
      h("dt", "Duration"), h("dd", i.start_time && end ? fmtDuration(end - i.start_time) : ""),
      h("dt", "User"), h("dd", i.user_id ?? ""),
      h("dt", "Artifacts"), h("dd.mono", i.artifact_uri ?? ""),
    ),
    h("nav.tabs", { role: "tablist" }, tab("overview", "Overview"), tab("metrics", `Metrics (${run.data.metrics?.length ?? 0})`), tab("artifacts", "Artifacts")),
  );
  const body = h("section.tab-body");
  ctx.el.append(body);
  if (r.tab === "metrics") return metricsTab(r, run, body, ctx);
  if (r.tab === "artifacts") return artifactsTab(r, run, body, ctx);
  await overviewTab(run, body, ctx);
  return {};
}

// ---- overview ----

function kvTable(rows: [string, Node | string][], cls: string, empty: string): HTMLElement {
  if (!rows.length) return h("p.empty", empty);
  return h(`table.grid.kv.${cls}`, h("tbody", ...rows.map(([k, v]) => h("tr", h("th", { scope: "row" }, k), h("td", v)))));
}

async function overviewTab(run: Run, body: HTMLElement, ctx: PageContext): Promise<void> {
  const params = [...(run.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const metrics = [...(run.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const tags = [...(run.data.tags ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const mhref = (key: string) => formatHash({ page: "run", experimentId: run.info.experiment_id, runId: run.info.run_id, tab: "metrics", artifact: "", q: { key } });
  const userTags = tags.filter((t) => !t.key.startsWith("mlflow."));
  const sysTags = tags.filter((t) => t.key.startsWith("mlflow."));
  const parent = tagOf(run, "mlflow.parentRunId");
  const datasets = run.inputs?.dataset_inputs ?? [];
  body.append(
    h("div.cols2",
      h("section", h("h2", `Parameters (${params.length})`), kvTable(params.map((p) => [p.key, p.value]), "params", "No parameters.")),
      h("section", h("h2", `Metrics (${metrics.length})`), kvTable(metrics.map((m) => [m.key, h("a", { href: mhref(m.key), title: `step ${m.step}` }, fmtNum(num(m.value)))]), "metrics", "No metrics.")),
    ),
    h("section", h("h2", "Tags"), kvTable(userTags.map((t) => [t.key, t.value]), "tags", "No tags."),
      sysTags.length ? h("details", h("summary", `System tags (${sysTags.length})`), kvTable(sysTags.map((t) => [t.key, t.value]), "systags", "")) : null),
    h("section", h("h2", `Datasets (${datasets.length})`),
      datasets.length
        ? h("table.grid.datasets", h("thead", h("tr", h("th", "Name"), h("th", "Digest"), h("th", "Source"), h("th", "Context"))),
            h("tbody", ...datasets.map((d) => h("tr", h("td", d.dataset.name), h("td.mono", d.dataset.digest), h("td.mono", d.dataset.source ?? ""), h("td", d.tags?.find((t) => t.key === "mlflow.data.context")?.value ?? "")))))
        : h("p.empty", "No datasets logged.")),
  );
  const rel = h("section", h("h2", "Related runs"));
  body.append(rel);
  if (parent) rel.append(h("p", "Parent: ", h("a", { href: formatHash({ page: "run", experimentId: run.info.experiment_id, runId: parent, tab: "overview", artifact: "", q: {} }) }, parent)));
  try {
    const kids = await api.searchRuns({ experiment_ids: [run.info.experiment_id], filter: `tags.mlflow.parentRunId = '${run.info.run_id}'`, max_results: 1000 });
    if (!ctx.live()) return;
    const ks = kids.runs ?? [];
    if (tagOf(run, "cairn.pipeline.file")) {
      const sec = await pipelineSection(run, ks);
      if (!ctx.live()) return;
      body.prepend(sec); // a pipeline run is about its stages: they come first
    }
    if (ks.length)
      rel.append(
        h("h3", `Child runs (${ks.length})`),
        h("table.grid.children", h("thead", h("tr", h("th", "Run"), h("th", "Stage"), h("th", "Result"), h("th", "Status"))),
          h("tbody", ...ks.map((k) => h("tr",
            h("td", h("a", { href: formatHash({ page: "run", experimentId: k.info.experiment_id, runId: k.info.run_id, tab: "overview", artifact: "", q: {} }) }, runName(k))),
            h("td", tagOf(k, "cairn.stage") ?? ""),
            h("td", tagOf(k, "cairn.result") ?? ""),
            h("td", k.info.status.toLowerCase()))))),
      );
    else if (!parent) rel.append(h("p.empty", "No parent or child runs."));
  } catch (e) {
    ctx.fail(e);
  }
}

// ---- metrics ----

function metricsTab(r: R, run: Run, body: HTMLElement, ctx: PageContext): Mounted {
  const keys = [...new Set((run.data.metrics ?? []).map((m) => m.key))].sort();
  const want = (r.q.filter ?? "").toLowerCase();
  const search = h("input.search", { type: "search", placeholder: "Filter metric keys", "aria-label": "Filter metric keys", value: r.q.filter ?? "" }) as HTMLInputElement;
  search.addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key === "Enter") ctx.go(withQuery(r, { filter: search.value.trim() }), true);
  });
  body.append(h("div.toolbar", search), chartControls(r, ctx));
  const charts: MetricChart[] = [];
  const runs = [{ id: run.info.run_id, name: runName(run), color: color(0), running: run.info.status === "RUNNING" }];
  const shown = keys.filter((k) => (!want || k.toLowerCase().includes(want)) && (!r.q.key || k === r.q.key));
  if (!keys.length) body.append(h("p.empty", "This run has no metrics."));
  else if (!shown.length) body.append(h("p.empty", "No metric key matches."));
  const model = shown.filter((k) => !k.startsWith("system/"));
  const system = shown.filter((k) => k.startsWith("system/"));
  const section = (title: string, ks: string[]) => {
    if (!ks.length) return;
    body.append(h("h2", `${title} (${ks.length})`), chartGrid(ks, (k) => new MetricChart(k, runs, chartOptions(r.q)), charts));
  };
  if (r.q.key) body.append(h("p", h("a", { href: formatHash(withQuery(r, { key: "" })) }, `← all ${keys.length} metrics`)));
  section("Model metrics", model);
  section("System metrics", system);
  return {
    leave: () => charts.forEach((c) => c.destroy()),
    update: (nr) => {
      if (nr.page !== "run" || nr.tab !== "metrics" || nr.q.filter !== r.q.filter || nr.q.key !== r.q.key) return false;
      const o = chartOptions(nr.q);
      charts.forEach((c) => c.setOptions(o));
      r = nr as R;
      clear(body.querySelector(".chart-controls")!);
      body.querySelector(".chart-controls")!.replaceWith(chartControls(r, ctx));
      return true;
    },
  };
}

// ---- artifacts ----

const PREVIEW_MAX = 4 << 20;
const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
const TEXT = /(\.(txt|log|md|py|json|ya?ml|csv|tsv|toml|ini|cfg|sh|r|sql|html|xml)|MLmodel|requirements\.txt|conda\.yaml|python_env\.yaml|dvc\.lock)$/i;

function artifactsTab(r: R, run: Run, body: HTMLElement, ctx: PageContext): Mounted {
  const tree = h("ul.tree-list", { role: "tree", "aria-label": "Artifacts" });
  const preview = h("div.preview", h("p.empty", "Select a file to preview it."));
  body.append(h("div.artifacts", h("div.tree-pane", tree), preview));
  const select = (path: string) => ctx.go({ ...r, artifact: path }, true);

  const list = async (path: string, into: HTMLElement, depth: number): Promise<void> => {
    let files: FileInfo[] = [];
    try {
      files = (await api.listArtifacts(run.info.run_id, path)).files ?? [];
    } catch (e) {
      ctx.fail(e);
      return;
    }
    files.sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path));
    if (!files.length && depth === 0) into.append(h("li.empty", "No artifacts."));
    for (const f of files) {
      const base = f.path.split("/").pop()!;
      const li = h("li", { role: "treeitem", "data-path": f.path });
      if (f.is_dir) {
        const sub = h("ul", { role: "group" });
        let opened = false;
        const btn = h("button.tree-item.dir", { type: "button", "aria-expanded": "false" }, "▸ " + base) as HTMLButtonElement;
        const openDir = async () => {
          opened = !opened;
          btn.setAttribute("aria-expanded", String(opened));
          btn.textContent = (opened ? "▾ " : "▸ ") + base;
          if (opened && !sub.childElementCount) await list(f.path, sub, depth + 1);
          sub.hidden = !opened;
        };
        btn.addEventListener("click", () => void openDir());
        li.append(btn, sub);
        if (r.artifact.startsWith(f.path + "/")) void openDir();
      } else {
        const btn = h("button.tree-item", { type: "button", class: r.artifact === f.path ? "active" : "" }, base, h("span.muted", " " + fmtBytes(f.file_size)));
        btn.addEventListener("click", () => select(f.path));
        li.append(btn);
        if (r.artifact === f.path) void show(f);
      }
      into.append(li);
    }
  };

  const show = async (f: FileInfo) => {
    clear(preview);
    const url = artifactUrl(run.info.run_id, f.path);
    preview.append(h("div.preview-head", h("span.mono", f.path), " ", h("span.muted", fmtBytes(f.file_size)), " ", h("a", { href: url, download: f.path.split("/").pop() }, "Download")));
    if (IMAGE.test(f.path)) {
      preview.append(h("img.preview-img", { src: url, alt: f.path }));
      return;
    }
    if (!TEXT.test(f.path) && !/^[^.]*$/.test(f.path.split("/").pop()!)) {
      preview.append(h("p.empty", "No preview for this kind of file."));
      return;
    }
    if ((f.file_size ?? 0) > PREVIEW_MAX) {
      preview.append(h("p.empty", `Too big to preview (${fmtBytes(f.file_size)}); download it.`));
      return;
    }
    let text: string;
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}: ${(await res.text()).slice(0, 200)}`);
      text = await res.text();
    } catch (e) {
      ctx.fail(e);
      return;
    }
    if (!ctx.live()) return;
    if (/\.(csv|tsv)$/i.test(f.path)) {
      const rows = parseCsv(text, f.path.toLowerCase().endsWith(".tsv") ? "\t" : ",", 501);
      const [hdr, ...data] = rows;
      preview.append(
        h("div.csv-box", h("table.grid.csv", h("thead", h("tr", ...(hdr ?? []).map((c) => h("th", c)))), h("tbody", ...data.slice(0, 500).map((row) => h("tr", ...row.map((c) => h("td", c))))))),
        h("p.muted", data.length > 500 ? "the first 500 rows" : `${data.length} rows`),
      );
      return;
    }
    if (/\.json$/i.test(f.path)) {
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        /* shown as it is */
      }
    }
    const cls = /MLmodel$/.test(f.path) ? "pre.code.mlmodel" : "pre.code";
    preview.append(h(cls, text));
  };

  void list("", tree, 0);
  return {};
}
