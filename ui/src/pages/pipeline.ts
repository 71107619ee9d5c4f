// pipeline.ts - a pipeline run (`cairn repro` with tracking): its DAG as
// stored with the run (pipeline/dag.json, what `cairn dag --json` prints),
// each stage coloured by what happened to it (ran, unchanged, restored from
// the run cache, failed, skipped), linked to the stage's own run, with its
// log and the data versions it read and wrote.

import { artifactUrl, type Run } from "../api";
import { h } from "../dom";
import { fmtDuration } from "../format";
import { formatHash } from "../route";
import { runName, tagOf } from "./runs";

export interface DagStage {
  name: string;
  after: string[];
  deps?: string[];
  outs?: string[];
}

/** Each stage's column: the length of the longest chain of stages before it. */
export function layers(stages: DagStage[]): Map<string, number> {
  const depth = new Map<string, number>();
  const byName = new Map(stages.map((s) => [s.name, s]));
  const visiting = new Set<string>();
  const walk = (name: string): number => {
    if (depth.has(name)) return depth.get(name)!;
    if (visiting.has(name)) return 0; // a cycle cannot come from cairn; do not loop on a bad file
    visiting.add(name);
    const s = byName.get(name);
    const d = s && s.after.length ? 1 + Math.max(...s.after.filter((a) => byName.has(a)).map(walk), -1) : 0;
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const s of stages) walk(s.name);
  return depth;
}

const RESULT_CLASS: Record<string, string> = { ran: "ran", unchanged: "unchanged", restored: "restored", failed: "failed", skipped: "skipped" };

function dagSvg(stages: DagStage[], runs: Map<string, Run>, href: (r: Run) => string): SVGElement {
  const NS = "http://www.w3.org/2000/svg";
  const depth = layers(stages);
  const cols: string[][] = [];
  for (const s of stages) (cols[depth.get(s.name)!] ??= []).push(s.name);
  const W = 150;
  const H = 40;
  const GX = 60;
  const GY = 20;
  const pos = new Map<string, { x: number; y: number }>();
  cols.forEach((names, c) => names.forEach((n, r) => pos.set(n, { x: 10 + c * (W + GX), y: 10 + r * (H + GY) })));
  const width = 20 + cols.length * (W + GX) - GX;
  const height = 20 + Math.max(...cols.map((c) => c.length)) * (H + GY) - GY;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("class", "dag");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Pipeline of ${stages.length} stages`);
  const add = (parent: Element, name: string, attrs: Record<string, string | number>, text?: string) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    parent.append(e);
    return e;
  };
  for (const s of stages) {
    const b = pos.get(s.name)!;
    for (const a of s.after) {
      const p = pos.get(a);
      if (!p) continue;
      const x1 = p.x + W;
      const y1 = p.y + H / 2;
      const x2 = b.x;
      const y2 = b.y + H / 2;
      add(svg, "path", { d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`, class: "dag-edge" });
    }
  }
  for (const s of stages) {
    const b = pos.get(s.name)!;
    const run = runs.get(s.name);
    const result = run ? tagOf(run, "cairn.result") ?? run.info.status.toLowerCase() : "not run";
    const g = add(svg, "a", run ? { href: href(run) } : {});
    g.setAttribute("class", `dag-node r-${RESULT_CLASS[result] ?? "none"}`);
    g.setAttribute("data-stage", s.name);
    add(g, "rect", { x: b.x, y: b.y, width: W, height: H, rx: 5 });
    add(g, "text", { x: b.x + 8, y: b.y + 16, class: "dag-name" }, s.name.length > 20 ? s.name.slice(0, 19) + "…" : s.name);
    add(g, "text", { x: b.x + 8, y: b.y + 32, class: "dag-result" }, result);
    add(g, "title", {}, `${s.name}: ${result}${s.deps?.length ? `\ndeps: ${s.deps.join(", ")}` : ""}${s.outs?.length ? `\nouts: ${s.outs.join(", ")}` : ""}`);
  }
  return svg;
}

/** The pipeline section of a pipeline run's page; kids are its stage runs. */
export async function pipelineSection(run: Run, kids: Run[]): Promise<HTMLElement> {
  const sec = h("section.pipeline", h("h2", `Pipeline (${tagOf(run, "cairn.pipeline.file") ?? ""})`));
  const byStage = new Map<string, Run>();
  for (const k of kids) {
    const st = tagOf(k, "cairn.stage");
    if (st && !byStage.has(st)) byStage.set(st, k);
  }
  let stages: DagStage[] | null = null;
  try {
    const res = await fetch(artifactUrl(run.info.run_id, "pipeline/dag.json"));
    if (res.ok) stages = ((await res.json()) as { stages?: DagStage[] }).stages ?? null;
  } catch {
    /* an older run without its DAG: the table below still lists the stages */
  }
  const href = (r: Run) => formatHash({ page: "run", experimentId: r.info.experiment_id, runId: r.info.run_id, tab: "overview", artifact: "", q: {} });
  if (stages && stages.length) sec.append(h("div.dag-box", dagSvg(stages, byStage, href)));
  else sec.append(h("p.muted", "This run holds no DAG (pipeline/dag.json); its stages:"));
  const order = stages ? stages.map((s) => s.name) : [...byStage.keys()];
  sec.append(
    h("table.grid.stages",
      h("thead", h("tr", h("th", "Stage"), h("th", "Result"), h("th", "Duration"), h("th", "Log"), h("th", "Data read and written"))),
      h("tbody", ...order.map((name) => {
        const r = byStage.get(name);
        if (!r) return h("tr", { "data-stage": name }, h("td", name), h("td.muted", "not run"), h("td", ""), h("td", ""), h("td", ""));
        const result = tagOf(r, "cairn.result") ?? r.info.status.toLowerCase();
        const ds = r.inputs?.dataset_inputs ?? [];
        return h("tr", { "data-stage": name },
          h("td", h("a", { href: href(r) }, runName(r))),
          h("td", h(`span.badge.s-${result.replace(/[^a-z]/g, "")}`, result), tagOf(r, "cairn.error") ? h("div.field-error", tagOf(r, "cairn.error")!) : null),
          h("td", r.info.start_time && r.info.end_time ? fmtDuration(r.info.end_time - r.info.start_time) : ""),
          h("td", h("a", { href: formatHash({ page: "run", experimentId: r.info.experiment_id, runId: r.info.run_id, tab: "artifacts", artifact: `logs/${name}.log`, q: {} }) }, "log")),
          h("td", ...ds.map((d) => h("div.mono", `${d.tags?.find((t) => t.key === "mlflow.data.context")?.value === "output" ? "→ " : "← "}${d.dataset.name} ${d.dataset.digest.slice(0, 12)}`))));
      }))),
  );
  return sec;
}
