// monitors.ts - the monitors kept in the store: their state, and for one
// monitor its windows (rows, share of drifted columns, drift per feature over
// time) and its events (firing, resolved, errors).

import uPlot from "uplot";
import { api } from "../api";
import { h } from "../dom";
import { fmtNum, fmtTime } from "../format";
import { formatHash, withQuery, type Route } from "../route";
import type { PageContext, Mounted } from "../page";

type R = Extract<Route, { page: "monitors" }>;

interface MonitorInfo {
  name: string;
  enabled?: boolean;
  spec?: Record<string, unknown>;
  windows?: number;
  firing?: boolean;
  state?: Record<string, unknown>;
  owner?: string;
  lease_until?: number;
}
interface Window {
  index: number;
  start_us: number;
  end_us: number;
  rows: number;
  dataset_drift: boolean;
  share?: number;
  drifted_columns?: string[];
  performance?: Record<string, unknown>;
  revision?: number;
  result?: { drift?: { columns?: Record<string, { drift_score?: number; drift_detected?: boolean; selected_test?: string }> }; reference?: string };
}
interface Event {
  time?: number; // ms
  window?: number;
  event?: string; // firing, resolved, error, promote...
  incident?: string;
  detail?: Record<string, unknown>;
}

export async function monitorsPage(r: R, ctx: PageContext): Promise<Mounted> {
  ctx.title("Monitors");
  const { monitors } = await api.cairn<{ monitors?: MonitorInfo[] }>("GET", "/monitors/list");
  if (!ctx.live()) return {};
  const ms = monitors ?? [];
  ctx.el.append(h("div.page-head", h("h1", "Monitors")));
  if (!ms.length) {
    ctx.el.append(h("p.empty", "No monitors: `cairn monitor add NAME --model models:/M@champion --log DIR` adds one, and `cairn server` runs it."));
    return {};
  }
  ctx.el.append(
    h("table.grid.monitors",
      h("thead", h("tr", h("th", "Name"), h("th", "Model"), h("th", "Enabled"), h("th", "Windows"), h("th", "Incident"), h("th", "Runner"))),
      h("tbody", ...ms.map((m) => h("tr", { class: m.name === r.q.name ? "active" : "", "data-name": m.name },
        h("td", h("a", { href: formatHash(withQuery(r, { name: m.name })) }, m.name)),
        h("td.mono", String(m.spec?.model ?? m.spec?.reference ?? "")),
        h("td", m.enabled === false ? "no" : "yes"),
        h("td", String(m.windows ?? "")),
        h("td", m.firing ? h("span.badge.s-failed", "firing") : h("span.badge.s-finished", "clear")),
        h("td", m.owner ?? ""))))),
  );
  const name = r.q.name ?? (ms.length === 1 ? ms[0].name : "");
  if (!name) return {};
  const detail = h("section.monitor", h("h2", name));
  ctx.el.append(detail);
  const [{ windows }, { events }] = await Promise.all([
    api.cairn<{ windows?: Window[] }>("GET", "/monitors/windows", undefined, { name, max_results: "500", full: "true" }),
    api.cairn<{ events?: Event[] }>("GET", "/monitors/events", undefined, { name, max_results: "200" }),
  ]);
  if (!ctx.live()) return {};
  const ws = (windows ?? []).slice().sort((a, b) => a.index - b.index);
  if (!ws.length) detail.append(h("p.empty", "No windows recorded yet."));
  else {
    const chart = h("div.drift-chart");
    detail.append(h("h3", "Share of drifted columns"), chart);
    new uPlot(
      {
        width: Math.max(300, Math.min(900, ctx.el.clientWidth - 40 || 800)),
        height: 200,
        series: [{ label: "window end" }, { label: "share", stroke: "#e8590c", width: 2, points: { show: true } }],
        scales: { x: { time: true }, y: { range: [0, 1] } },
        axes: [{ stroke: "currentColor", grid: { stroke: "#8884" } }, { stroke: "currentColor", grid: { stroke: "#8884" } }],
      },
      [ws.map((w) => w.end_us / 1e6), ws.map((w) => (typeof w.share === "number" ? w.share : null))] as uPlot.AlignedData,
      chart,
    );
    chart.dataset.drawn = String(ws.length);
    detail.append(h("h3", "Drift per feature"), featureGrid(ws));
    detail.append(
      h("h3", "Windows"),
      h("table.grid.windows",
        h("thead", h("tr", h("th", "#"), h("th", "From"), h("th", "To"), h("th", "Rows"), h("th", "Drift"), h("th", "Share"), h("th", "Drifted columns"), h("th", "Performance"))),
        h("tbody", ...ws.slice().reverse().map((w) => h("tr", { class: w.dataset_drift ? "differs" : "" },
          h("td", String(w.index)), h("td", fmtTime(w.start_us / 1000)), h("td", fmtTime(w.end_us / 1000)), h("td", String(w.rows)),
          h("td", w.dataset_drift ? h("span.badge.s-failed", "drift") : h("span.badge.s-finished", "ok")),
          h("td", w.share === undefined ? "" : fmtNum(w.share)),
          h("td", (w.drifted_columns ?? []).join(", ")),
          h("td", w.performance ? Object.entries(w.performance).filter(([, v]) => typeof v === "number").map(([k, v]) => `${k} ${fmtNum(v as number)}`).join(", ") : ""),
        )))),
    );
  }
  const evs = events ?? [];
  detail.append(h("h3", `Events (${evs.length})`),
    evs.length
      ? h("table.grid.events", h("thead", h("tr", h("th", "Time"), h("th", "Event"), h("th", "Details"))),
          h("tbody", ...evs.map((e) => h("tr", { class: `ev-${e.event ?? ""}` },
            h("td", fmtTime(e.time)),
            h("td", e.event === "firing" ? h("span.badge.s-failed", "firing") : e.event === "resolved" ? h("span.badge.s-finished", "resolved") : String(e.event ?? "")),
            h("td", e.window !== undefined ? `window ${e.window} ` : "", h("code", typeof e.detail?.message === "string" ? e.detail.message : JSON.stringify(e.detail ?? {})))))))
      : h("p.empty", "No events."));

  return {};
}

/** Windows × features: each cell the drift score, drifted cells marked. */
function featureGrid(ws: Window[]): HTMLElement {
  const feats = new Set<string>();
  for (const w of ws) for (const k of Object.keys(w.result?.drift?.columns ?? {})) feats.add(k);
  if (!feats.size) return h("p.empty", "The windows hold no per-feature results.");
  const fs = [...feats].sort();
  const last = ws.slice(-40);
  return h("div.table-scroll",
    h("table.grid.heat",
      h("thead", h("tr", h("th", "feature"), ...last.map((w) => h("th", { title: fmtTime(w.end_us / 1000) }, String(w.index))))),
      h("tbody", ...fs.map((f) => h("tr", h("th", { scope: "row" }, f), ...last.map((w) => {
        const c = w.result?.drift?.columns?.[f];
        if (!c) return h("td", "");
        return h("td", { class: c.drift_detected ? "drifted" : "", title: `${f}: ${c.selected_test ?? ""} ${fmtNum(c.drift_score)}` }, fmtNum(c.drift_score));
      }))))));
}
