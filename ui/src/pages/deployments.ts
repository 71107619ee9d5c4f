// deployments.ts - the model servers that report to this store (`cairn
// serve` of a registry model, every poll): what each serves, at which
// version, and its traffic now (requests a second, 5xx share, p50 and p99
// latency between its last two reports).

import { api } from "../api";
import { h } from "../dom";
import { fmtDuration, fmtNum, fmtTime } from "../format";
import { formatHash, type Route } from "../route";
import { parseProm, traffic } from "../prom";
import type { PageContext, Mounted } from "../page";

type R = Extract<Route, { page: "deployments" }>;

interface Deployment {
  name: string;
  info: {
    url?: string;
    pid?: number;
    started?: number;
    state?: string;
    poll_s?: number;
    version?: string;
    models?: { name: string; role?: string; uri?: string; version?: string; followed?: boolean }[];
  };
  reported: number;
  first_reported: number;
  metrics?: string;
  prev_metrics?: string;
  prev_reported?: number;
}

const ms = (s: number | null) => (s === null ? "—" : s < 1 ? `${fmtNum(Number((s * 1000).toPrecision(3)))} ms` : `${fmtNum(Number(s.toPrecision(3)))} s`);

export async function deploymentsPage(_r: R, ctx: PageContext): Promise<Mounted> {
  ctx.title("Deployments");
  const head = h("div.page-head", h("h1", "Deployments"));
  const box = h("div.list", h("p.loading", "loading…"));
  ctx.el.append(head, box);
  let timer = 0;
  const draw = async () => {
    const { deployments } = await api.cairn<{ deployments?: Deployment[] }>("GET", "/deployments/list", undefined, { metrics: "true" });
    if (!ctx.live()) return;
    const ds = deployments ?? [];
    box.replaceChildren();
    if (!ds.length) {
      box.append(h("p.empty", "No model server reports here yet: `cairn serve models:/NAME@ALIAS --tracking-uri THIS_SERVER` reports every poll."));
      return;
    }
    const now = Date.now();
    box.append(
      h("table.grid.deployments",
        h("thead", h("tr", h("th", "Deployment"), h("th", "Models"), h("th", "State"), h("th", "Requests/s"), h("th", "5xx"), h("th", "p50"), h("th", "p99"), h("th", "Up"), h("th", "Last report"))),
        h("tbody", ...ds.map((d) => {
          const poll = (d.info.poll_s ?? 5) * 1000;
          const stale = d.info.state !== "stopped" && now - d.reported > 3 * poll + 2000;
          const state = d.info.state === "stopped" ? "stopped" : stale ? "not reporting" : "serving";
          // a stopped server: its whole life (the last two reports are its last moments)
          const life = d.info.started ? (d.reported - d.info.started) / 1000 : null;
          const t =
            state === "stopped"
              ? traffic(parseProm(d.metrics ?? ""), null, life)
              : traffic(parseProm(d.metrics ?? ""), d.prev_metrics ? parseProm(d.prev_metrics) : null, d.prev_reported ? (d.reported - d.prev_reported) / 1000 : null);
          return h("tr", { "data-name": d.name, class: state === "serving" ? "" : "deleted" },
            h("td", h("div", d.name), d.info.url ? h("a.mono", { href: d.info.url + "/metrics", title: "its /metrics" }, d.info.url) : null),
            h("td", ...(d.info.models ?? []).map((m) => h("div.model-line",
              h("a", { href: formatHash({ page: "model", name: m.name, q: {} }) }, m.name),
              m.version ? h("a", { href: formatHash({ page: "version", name: m.name, version: m.version, q: {} }) }, ` v${m.version}`) : null,
              m.role && m.role !== "primary" ? h("span.chip", m.role) : null,
              m.uri ? h("span.muted.mono", ` ${m.uri}${m.followed ? " (followed)" : ""}`) : null))),
            h("td", h(`span.badge.s-${state === "serving" ? "running" : state === "stopped" ? "finished" : "failed"}`, state)),
            h("td.num", t.perSecond === null ? "—" : fmtNum(Number(t.perSecond.toPrecision(3)))),
            h("td.num", t.errorShare === null ? "—" : `${fmtNum(Number((t.errorShare * 100).toPrecision(3)))} %`),
            h("td.num", ms(t.p50)),
            h("td.num", ms(t.p99)),
            h("td", d.info.started ? fmtDuration(d.reported - d.info.started) : ""),
            h("td", fmtTime(d.reported)));
        }))),
      h("p.muted", "Rates and latencies are between each server's last two reports, over its whole life once it stopped (requests to /metrics and health checks left out); refreshed every 5 s."),
    );
  };
  await draw();
  const tick = () => {
    timer = window.setTimeout(async () => {
      try {
        await draw();
      } catch (e) {
        ctx.fail(e);
      }
      if (ctx.live()) tick();
    }, 5000);
  };
  tick();
  return { leave: () => clearTimeout(timer) };
}
