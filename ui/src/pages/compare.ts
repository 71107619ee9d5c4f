// compare.ts - several runs side by side: a diff table of params and
// metrics (rows that differ highlighted, or only those), overlaid metric
// charts, a scatter of a metric against a param or metric, and parallel
// coordinates over the columns the user picks.

import uPlot from "uplot";
import { api, type Run } from "../api";
import { h } from "../dom";
import { fmtNum } from "../format";
import { parseColumn, columnId, type Column } from "../filter";
import { formatHash, withQuery, type Route } from "../route";
import { MetricChart, chartGrid, color } from "../chart";
import type { PageContext, Mounted } from "../page";
import { runName, valueOf } from "./runs";
import { chartControls, chartOptions } from "./run";

type R = Extract<Route, { page: "compare" }>;

export interface DiffRow {
  id: string; // "params.lr"
  values: (string | number | undefined)[];
  differs: boolean;
}

/** One row per param and metric any run has, in key order, marked when the runs disagree. */
export function diffRows(runs: Run[]): DiffRow[] {
  const out: DiffRow[] = [];
  for (const kind of ["params", "metrics"] as const) {
    const keys = new Set<string>();
    for (const r of runs) for (const x of r.data[kind] ?? []) keys.add(x.key);
    for (const key of [...keys].sort()) {
      const c: Column = { kind, key };
      const values = runs.map((r) => valueOf(r, c));
      const differs = values.some((v) => String(v) !== String(values[0]));
      out.push({ id: columnId(c), values, differs });
    }
  }
  return out;
}

/** A column's values as numbers: numbers as they are, other values by their rank among the distinct ones. */
export function numeric(values: (string | number | undefined)[]): { xs: (number | null)[]; labels: string[] | null } {
  if (values.every((v) => v === undefined || typeof v === "number" || (v !== "" && Number.isFinite(Number(v)))))
    return { xs: values.map((v) => (v === undefined ? null : Number(v))), labels: null };
  const labels = [...new Set(values.filter((v) => v !== undefined).map(String))].sort();
  return { xs: values.map((v) => (v === undefined ? null : labels.indexOf(String(v)))), labels };
}

export async function comparePage(r: R, ctx: PageContext): Promise<Mounted> {
  ctx.title(`Compare ${r.runIds.length} runs`);
  if (r.runIds.length < 1) {
    ctx.el.append(h("h1", "Compare runs"), h("p.empty", "No runs chosen: select runs in an experiment's table and press Compare."));
    return {};
  }
  const runs = (await Promise.all(r.runIds.map((id) => api.getRun(id)))).map((x) => x.run);
  if (!ctx.live()) return {};
  const exp = r.experimentIds[0] ?? runs[0].info.experiment_id;
  ctx.el.append(
    h("div.page-head",
      h("div.crumbs", h("a", { href: "#/experiments" }, "Experiments"), " / ", h("a", { href: formatHash({ page: "runs", experimentId: exp, q: {} }) }, "runs"), " / "),
      h("h1", `Comparing ${runs.length} runs`)),
  );
  const charts: MetricChart[] = [];

  // ---- the diff table ----
  const onlyDiff = r.q.diff === "1";
  const rows = diffRows(runs);
  const only = h("input", { type: "checkbox", checked: onlyDiff, id: "only-diff" }) as HTMLInputElement;
  only.addEventListener("change", () => ctx.go(withQuery(r, { diff: only.checked ? "1" : "" }), true));
  const shown = rows.filter((x) => !onlyDiff || x.differs);
  ctx.el.append(
    h("section",
      h("div.section-head", h("h2", "Params and metrics"), h("label.check", only, " only differences")),
      h("div.table-scroll",
        h("table.grid.diff",
          h("thead", h("tr", h("th", ""), ...runs.map((run, i) => h("th", h("span.swatch", { style: `background:${color(i)}` }), h("a", { href: formatHash({ page: "run", experimentId: run.info.experiment_id, runId: run.info.run_id, tab: "overview", artifact: "", q: {} }) }, runName(run)))))),
          h("tbody", ...shown.map((x) => h("tr", { class: x.differs ? "differs" : "", "data-key": x.id },
            h("th", { scope: "row" }, x.id),
            ...x.values.map((v) => h("td", v === undefined ? "—" : typeof v === "number" ? fmtNum(v) : v)))))))),
  );

  // ---- scatter and parallel coordinates ----
  const paramIds = rows.filter((x) => x.id.startsWith("params.")).map((x) => x.id);
  const metricIds = rows.filter((x) => x.id.startsWith("metrics.")).map((x) => x.id);
  const all = [...paramIds, ...metricIds];
  const sx = r.q.sx && all.includes(r.q.sx) ? r.q.sx : paramIds[0] ?? metricIds[0];
  const sy = r.q.sy && all.includes(r.q.sy) ? r.q.sy : metricIds[0] ?? paramIds[0];
  const pick = (label: string, val: string | undefined, key: string) => {
    const s = h("select", { "aria-label": label }, ...all.map((id) => h("option", { value: id, selected: id === val }, id))) as HTMLSelectElement;
    s.addEventListener("change", () => ctx.go(withQuery(r, { [key]: s.value }), true));
    return h("label", `${label} `, s);
  };
  if (sx && sy) {
    const box = h("div.scatter");
    ctx.el.append(h("section", h("div.section-head", h("h2", "Scatter"), pick("x", sx, "sx"), pick("y", sy, "sy")), box));
    scatter(box, runs, parseColumn(sx)!, parseColumn(sy)!);
  }
  const pcCols = (r.q.pc ? r.q.pc.split(",") : [...paramIds.slice(0, 4), ...metricIds.slice(0, 3)]).map(parseColumn).filter((c): c is Column => !!c);
  if (pcCols.length >= 2) {
    const box = h("div.parallel");
    ctx.el.append(h("section", h("h2", "Parallel coordinates"), box));
    box.append(parallel(runs, pcCols));
  }

  // ---- overlaid charts ----
  const keys = [...new Set(runs.flatMap((run) => (run.data.metrics ?? []).map((m) => m.key)))].sort();
  // grouped (group=params.model): one series per value, its runs' mean inside their min/max band
  const group = r.q.group ? parseColumn(r.q.group) : null;
  const groupKeys = [...new Set(runs.flatMap((run) => [...(run.data.params ?? []).map((p) => `params.${p.key}`), ...(run.data.tags ?? []).filter((t) => !t.key.startsWith("mlflow.")).map((t) => `tags.${t.key}`)]))].sort();
  const groupSel = h("select", { "aria-label": "Group runs by" }, h("option", { value: "" }, "no grouping"), ...groupKeys.map((k) => h("option", { value: k, selected: k === r.q.group }, k))) as HTMLSelectElement;
  groupSel.addEventListener("change", () => ctx.go(withQuery(r, { group: groupSel.value }), true));
  let series: { id: string; name: string; color: string; running?: boolean; members?: string[]; has: (k: string) => boolean }[];
  if (group) {
    const groups = new Map<string, Run[]>();
    for (const run of runs) {
      const v = valueOf(run, group);
      const k = v === undefined ? "(none)" : String(v);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(run);
    }
    series = [...groups.entries()].map(([v, rs], i) => ({
      id: "g:" + v,
      name: `${group.key}=${v} (${rs.length})`,
      color: color(i),
      members: rs.map((x) => x.info.run_id),
      has: (k: string) => rs.some((x) => x.data.metrics?.some((m) => m.key === k)),
    }));
  } else {
    series = runs.map((run, i) => ({
      id: run.info.run_id,
      name: runName(run),
      color: color(i),
      running: run.info.status === "RUNNING",
      has: (k: string) => !!run.data.metrics?.some((m) => m.key === k),
    }));
  }
  const grid = chartGrid(keys, (k) => new MetricChart(k, series.filter((x) => x.has(k)), chartOptions(r.q)), charts);
  ctx.el.append(
    h("section.compare-charts", h("div.section-head", h("h2", `Metric charts (${keys.length})`), h("label", "group by ", groupSel)), chartControls(r, ctx), keys.length ? grid : h("p.empty", "These runs have no metrics.")),
  );
  return {
    leave: () => charts.forEach((c) => c.destroy()),
    update: (nr) => {
      if (nr.page !== "compare") return false;
      const changed = Object.keys({ ...r.q, ...nr.q }).filter((k) => r.q[k] !== nr.q[k]);
      if (!changed.every((k) => ["x", "log", "smooth"].includes(k))) return false;
      charts.forEach((c) => c.setOptions(chartOptions(nr.q)));
      r = nr as R;
      ctx.el.querySelector(".chart-controls")?.replaceWith(chartControls(r, ctx));
      return true;
    },
  };
}

function scatter(box: HTMLElement, runs: Run[], cx: Column, cy: Column): void {
  const X = numeric(runs.map((run) => valueOf(run, cx)));
  const Y = numeric(runs.map((run) => valueOf(run, cy)));
  const pts = runs.map((_, i) => ({ x: X.xs[i], y: Y.xs[i], i })).filter((p) => p.x !== null && p.y !== null) as { x: number; y: number; i: number }[];
  pts.sort((a, b) => a.x - b.x);
  if (!pts.length) {
    box.append(h("p.empty", "No run has both values."));
    return;
  }
  // one series per run, so each point takes its run's colour
  const xs = [...new Set(pts.map((p) => p.x))];
  const data: (number | null)[][] = [xs];
  const series: uPlot.Series[] = [{ label: cx.key }];
  for (const p of pts) {
    const col = xs.map((x) => (x === p.x ? p.y : null));
    data.push(col);
    series.push({ label: runName(runs[p.i]), stroke: color(p.i), fill: color(p.i), paths: () => null, points: { show: true, size: 9, fill: color(p.i) } });
  }
  const axis = (labels: string[] | null, label: string): uPlot.Axis => ({
    label,
    stroke: "currentColor",
    grid: { stroke: "#8884" },
    ...(labels ? { values: (_u: uPlot, vs: number[]) => vs.map((v) => (Number.isInteger(v) ? labels[v] ?? "" : "")) } : {}),
  });
  new uPlot(
    {
      width: Math.max(300, Math.min(800, box.clientWidth || 640)),
      height: 300,
      series,
      legend: { show: false },
      scales: { x: { time: false } },
      axes: [axis(X.labels, columnId(cx)), { ...axis(Y.labels, columnId(cy)), size: 70 }],
    },
    data as uPlot.AlignedData,
    box,
  );
  box.dataset.drawn = String(pts.length);
}

/** An SVG with one vertical axis per column and one polyline per run. */
function parallel(runs: Run[], cols: Column[]): SVGElement {
  const NS = "http://www.w3.org/2000/svg";
  const W = Math.max(360, cols.length * 140);
  const H = 260;
  const top = 30;
  const bottom = H - 20;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "pc");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Parallel coordinates over ${cols.map(columnId).join(", ")}`);
  const el = (name: string, attrs: Record<string, string | number>, text?: string) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  const axes = cols.map((c, k) => {
    const { xs, labels } = numeric(runs.map((run) => valueOf(run, c)));
    const fin = xs.filter((v): v is number => v !== null && Number.isFinite(v));
    const lo = fin.length ? Math.min(...fin) : 0;
    const hi = fin.length ? Math.max(...fin) : 1;
    const x = 40 + (k * (W - 80)) / Math.max(1, cols.length - 1);
    el("line", { x1: x, x2: x, y1: top, y2: bottom, class: "pc-axis" });
    el("text", { x, y: top - 12, "text-anchor": "middle", class: "pc-label" }, c.key);
    el("text", { x: x + 4, y: top + 4, class: "pc-tick" }, labels ? labels[hi] ?? "" : fmtNum(hi));
    el("text", { x: x + 4, y: bottom, class: "pc-tick" }, labels ? labels[lo] ?? "" : fmtNum(lo));
    return { x, xs, y: (v: number) => (hi === lo ? (top + bottom) / 2 : bottom - ((v - lo) / (hi - lo)) * (bottom - top)) };
  });
  runs.forEach((run, i) => {
    const pts = axes.map((a) => (a.xs[i] === null || !Number.isFinite(a.xs[i]!) ? null : `${a.x},${a.y(a.xs[i]!).toFixed(1)}`));
    if (pts.filter(Boolean).length < 2) return;
    const line = el("polyline", { points: pts.filter(Boolean).join(" "), stroke: color(i), fill: "none", "stroke-width": 2, class: "pc-line" });
    const title = document.createElementNS(NS, "title");
    title.textContent = runName(run);
    line.append(title);
  });
  return svg;
}
