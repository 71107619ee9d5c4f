// chart.ts - metric charts (uPlot). A chart asks the server for at most
// MAX_POINTS points per run (get-history-bulk-interval keeps the lowest and
// highest point of every step bucket, so spikes survive), draws each run as
// a line inside its min/max band (one bucket per pixel or two), asks
// cairn's metrics/summary how many points there are (so it knows whether it
// holds them all), and on zoom
// fetches the zoomed step range again, at full resolution once it holds
// fewer points than that. Charts mount when they scroll into view, and a
// running run's chart asks only for the points after the last one it has.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { api, num, type Metric } from "./api";
import { h } from "./dom";
import { aggregate, envelope, smooth, toSeries, needsRefetch, type Point, type XMode, type Held, type Series } from "./sample";

export const MAX_POINTS = 2500;
const MAX_STEP = 9007199254740991;

export interface ChartRun {
  id: string; // a run, or a group's name
  name: string;
  color: string;
  running?: boolean;
  members?: string[]; // a group: its runs, drawn as their mean inside their min/max band
}

/** The run ids behind a chart's series (a group's members, at most 100: the API's limit). */
function idsOf(r: ChartRun): string[] {
  return (r.members ?? [r.id]).slice(0, 100);
}

export interface ChartOptions {
  xmode: XMode;
  log: boolean;
  smoothing: number; // 0..0.99
}

interface RunData {
  run: ChartRun;
  coarse: Point[]; // the sample over the whole history
  coarseFull: boolean;
  detail: Point[]; // the zoomed range, when fetched
  detailHeld: Held | null;
}

const PALETTE = ["#2f6fde", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0b7285", "#e67700", "#5c940d", "#a61e4d", "#364fc7"];
export function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function toPoints(ms: Metric[] | undefined, runId: string | null): Point[] {
  const out: Point[] = [];
  for (const m of ms ?? []) if (runId === null || m.run_id === runId) out.push({ step: m.step, timestamp: m.timestamp, value: num(m.value) });
  out.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
  return out;
}

/** The points to draw for a run: the coarse sample with the fetched detail range swapped in. */
function merged(d: RunData): Point[] {
  if (!d.detail.length || !d.detailHeld?.range) return d.coarse;
  const [a, b] = d.detailHeld.range;
  return d.coarse.filter((p) => p.step < a).concat(d.detail, d.coarse.filter((p) => p.step > b));
}

// One observer for every chart on the page (10,000 charts, one observer):
// each element's callback runs once, when it first comes within 300 px of view.
const pending = new Map<Element, () => void>();
let observer: IntersectionObserver | null = null;
function watch(el: Element, fn: () => void): void {
  observer ??= new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        const cb = pending.get(e.target);
        unwatch(e.target);
        cb?.();
      }
    },
    { rootMargin: "300px" },
  );
  pending.set(el, fn);
  observer.observe(el);
}
function unwatch(el: Element): void {
  if (pending.delete(el)) observer?.unobserve(el);
}

export class MetricChart {
  readonly el: HTMLElement;
  private u: uPlot | null = null;
  private data: RunData[] = [];
  private zoom: [number, number] | null = null;
  private poll = 0;
  private resize: ResizeObserver | null = null;
  private destroyed = false;
  private readonly plot: HTMLElement;
  private readonly status: HTMLElement;
  private fetchSeq = 0;
  /** How many points each run has in total view, for tests and the status line. */
  pointsDrawn = 0;

  constructor(
    readonly key: string,
    private runs: ChartRun[],
    private opts: ChartOptions,
    private readonly height = 240,
  ) {
    this.plot = h("div.chart-plot", { style: `height:${height + 40}px` });
    this.status = h("div.chart-status", "loading…");
    const legend = runs.length > 1 ? h("div.chart-legend", ...runs.map((r) => h("span", h("span.swatch", { style: `background:${r.color}` }), r.name))) : null;
    this.el = h("figure.chart", { "data-metric": key }, h("figcaption", key), legend, this.plot, this.status);
    // mount lazily: a run with 10,000 metric keys draws only what is looked at
    watch(this.el, () => void this.load());
  }

  setOptions(o: ChartOptions): void {
    const rebuild = o.xmode !== this.opts.xmode || o.log !== this.opts.log;
    this.opts = o;
    if (!this.u) return;
    if (rebuild) {
      this.zoom = null;
      this.build();
    } else this.redraw(true);
  }

  destroy(): void {
    this.destroyed = true;
    unwatch(this.el);
    this.resize?.disconnect();
    clearTimeout(this.poll);
    this.u?.destroy();
    this.u = null;
  }

  private async load(): Promise<void> {
    try {
      const ids = [...new Set(this.runs.flatMap(idsOf))].slice(0, 100);
      const [res, sum] = await Promise.all([api.metricSampled(ids, this.key, MAX_POINTS), api.metricSummary(ids, this.key)]);
      if (this.destroyed) return;
      const counts = new Map((sum.summaries ?? []).map((x) => [x.run_id, x.count]));
      const byRun = new Map<string, Point[]>();
      for (const id of ids) byRun.set(id, toPoints(res.metrics, ids.length === 1 ? null : id));
      this.data = this.runs.map((run) => {
        const members = idsOf(run).filter((id) => byRun.has(id));
        const pts = members.map((id) => byRun.get(id)!);
        const coarse = run.members ? aggregate(pts) : pts[0] ?? [];
        const coarseFull = members.every((id, i) => pts[i].length >= (counts.get(id) ?? 0));
        return { run, coarse, coarseFull, detail: [], detailHeld: null };
      });
      this.build();
      this.schedulePoll();
    } catch (e) {
      this.status.textContent = `could not load ${this.key}: ${(e as Error).message}`;
      this.status.classList.add("error");
    }
  }

  private width(): number {
    return Math.max(200, this.plot.clientWidth || 600);
  }

  private series(d: RunData): Series {
    return toSeries(merged(d), this.opts.xmode);
  }

  /** uPlot's aligned table for the current zoom: per run, line, low and high. */
  private table(): uPlot.AlignedData {
    const buckets = Math.max(50, Math.floor(this.width() / 1.5));
    const tables: uPlot.AlignedData[] = [];
    let drawn = 0;
    for (const d of this.data) {
      const s = this.series(d);
      const env = envelope(s, buckets, this.zoom?.[0], this.zoom?.[1]);
      const fix = (ys: number[]) => ys.map((y) => (Number.isFinite(y) && (!this.opts.log || y > 0) ? y : null));
      drawn += env.x.length;
      tables.push([env.x, fix(smooth(env.mid, this.opts.smoothing)), fix(env.lo), fix(env.hi)] as uPlot.AlignedData);
    }
    this.pointsDrawn = drawn;
    // for tests and screen readers: what the chart shows
    let ymax = -Infinity;
    let ymin = Infinity;
    for (const t of tables) {
      for (const v of t[3] as (number | null)[]) if (v !== null && v > ymax) ymax = v;
      for (const v of t[2] as (number | null)[]) if (v !== null && v < ymin) ymin = v;
    }
    this.el.dataset.points = String(drawn);
    if (ymax >= ymin) {
      this.el.dataset.ymax = String(ymax);
      this.el.dataset.ymin = String(ymin);
    }
    if (!tables.length) return [[]];
    return tables.length === 1 ? tables[0] : uPlot.join(tables);
  }

  private build(): void {
    this.u?.destroy();
    this.plot.replaceChildren();
    const series: uPlot.Series[] = [{ label: this.opts.xmode === "step" ? "step" : "time" }];
    const bands: uPlot.Band[] = [];
    // a series of a few points (a metric logged once) shows its points: a line needs two
    const few = this.data.every((d) => d.coarse.length <= 60);
    this.data.forEach((d, i) => {
      const base = 1 + i * 3;
      series.push(
        { label: d.run.name, stroke: d.run.color, width: 1.5, spanGaps: true, points: { show: few, size: 6, fill: d.run.color } },
        { label: `${d.run.name} min`, stroke: d.run.color + "80", width: 0.75, spanGaps: true, points: { show: false } },
        { label: `${d.run.name} max`, stroke: d.run.color + "80", width: 0.75, spanGaps: true, points: { show: false } },
      );
      bands.push({ series: [base + 2, base + 1], fill: d.run.color + "40" });
    });
    const opts: uPlot.Options = {
      width: this.width(),
      height: this.height,
      series,
      bands,
      legend: { show: false },
      scales: {
        x: { time: this.opts.xmode === "wall" },
        y: this.opts.log ? { distr: 3 } : {},
      },
      axes: [
        { label: this.opts.xmode === "step" ? "step" : this.opts.xmode === "wall" ? "" : "seconds", stroke: "currentColor", grid: { stroke: "#8884" } },
        { stroke: "currentColor", grid: { stroke: "#8884" }, size: 60 },
      ],
      cursor: {
        // a drag selects a range; the chart zooms itself (setSelect below), so
        // the scale changes only when the user asked for it
        drag: { x: true, y: false, setScale: false },
        bind: {
          dblclick: () => () => {
            this.resetZoom();
            return null;
          },
        },
      },
      hooks: {
        setSelect: [
          (u: uPlot) => {
            const { left, width } = u.select;
            if (width < 3) return;
            const min = u.posToVal(left, "x");
            const max = u.posToVal(left + width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (!(max > min)) return;
            this.zoom = [min, max];
            void this.onZoom();
          },
        ],
      },
    };
    this.zoom = null;
    this.u = new uPlot(opts, this.table(), this.plot);
    this.updateStatus();
    if (!this.resize) {
      this.resize = new ResizeObserver(() => {
        if (this.u && Math.abs(this.u.width - this.width()) > 4) {
          this.u.setSize({ width: this.width(), height: this.height });
          this.redraw(false);
        }
      });
      this.resize.observe(this.plot);
    }
    this.el.dataset.drawn = "1";
  }

  private redraw(keepScale: boolean): void {
    if (!this.u) return;
    this.u.setData(this.table(), !keepScale || !this.zoom);
    if (this.zoom && keepScale) this.u.setScale("x", { min: this.zoom[0], max: this.zoom[1] });
    this.updateStatus();
  }

  private resetZoom(): void {
    this.zoom = null;
    for (const d of this.data) {
      d.detail = [];
      d.detailHeld = null;
    }
    this.redraw(false);
  }

  /** The step range behind an x range: in step mode the range itself, in
   * the time modes the lowest and highest step of the points held in it. */
  private stepRange(d: RunData, x: [number, number]): [number, number] | null {
    if (this.opts.xmode === "step") return [Math.floor(x[0]), Math.ceil(x[1])];
    const pts = merged(d);
    const s = toSeries(pts, this.opts.xmode);
    let lo = Infinity;
    let hi = -Infinity;
    // toSeries orders the time modes by time: walk the points in that order too
    const byTime = [...pts].sort((a, b) => a.timestamp - b.timestamp);
    byTime.forEach((p, i) => {
      if (s.x[i] >= x[0] && s.x[i] <= x[1]) {
        lo = Math.min(lo, p.step);
        hi = Math.max(hi, p.step);
      }
    });
    return lo <= hi ? [lo, hi] : null;
  }

  private async onZoom(): Promise<void> {
    if (!this.zoom || !this.u) return;
    const seq = ++this.fetchSeq;
    this.redraw(true); // re-bucket what is held for the new range at once
    const want = this.zoom;
    await Promise.all(
      this.data.map(async (d) => {
        if (d.coarseFull) return;
        const range = this.stepRange(d, want);
        if (!range) return;
        const held: Held = d.detailHeld ?? { range: null, full: false };
        if (!needsRefetch(held, range)) return;
        try {
          const ids = idsOf(d.run);
          const [res, sum] = await Promise.all([
            api.metricSampled(ids, this.key, MAX_POINTS, range),
            api.metricSummary(ids, this.key, range),
          ]);
          if (seq !== this.fetchSeq || this.destroyed) return;
          const counts = new Map((sum.summaries ?? []).map((x) => [x.run_id, x.count]));
          const pts = ids.map((id) => toPoints(res.metrics, ids.length === 1 ? null : id));
          d.detail = d.run.members ? aggregate(pts) : pts[0];
          d.detailHeld = { range, full: ids.every((id, i) => pts[i].length >= (counts.get(id) ?? 0)) };
        } catch (e) {
          this.status.textContent = `could not load the zoomed range: ${(e as Error).message}`;
        }
      }),
    );
    if (seq === this.fetchSeq && this.zoom) this.redraw(true);
  }

  private updateStatus(): void {
    const total = this.data.reduce((a, d) => a + d.coarse.length, 0);
    const full = this.data.every((d) => d.coarseFull || (this.zoom && d.detailHeld?.full));
    const what = full ? "every point" : `a min/max envelope of ${this.pointsDrawn.toLocaleString()} buckets`;
    this.status.textContent = total ? `${what}${this.zoom ? " (zoomed: double-click to reset)" : ""}` : "no points";
    this.status.classList.remove("error");
    this.el.dataset.full = full ? "1" : "0";
  }

  /** A running run: ask every 5 s for the points after the last step held (never for a finished run). */
  private schedulePoll(): void {
    if (!this.runs.some((r) => r.running)) return;
    this.poll = window.setTimeout(async () => {
      for (const d of this.data) {
        if (!d.run.running || !d.coarseFull || d.run.members) continue;
        const last = d.coarse.length ? d.coarse[d.coarse.length - 1].step : 0;
        try {
          const range: [number, number] = [last + 1, MAX_STEP];
          const [res, sum] = await Promise.all([api.metricSampled([d.run.id], this.key, MAX_POINTS, range), api.metricSummary([d.run.id], this.key, range)]);
          const more = toPoints(res.metrics, null);
          if (more.length) {
            d.coarse = d.coarse.concat(more);
            d.coarseFull = more.length >= (sum.summaries?.[0]?.count ?? 0);
          }
        } catch {
          /* the next tick tries again */
        }
      }
      if (!this.destroyed) {
        this.redraw(true);
        this.schedulePoll();
      }
    }, 5000);
  }
}

const GRID_BATCH = 48;

/**
 * A grid of charts for many keys that builds them a batch at a time: the
 * next batch when the end of the grid comes near, so a run with 10,000
 * metric keys costs what 48 cost until the user scrolls. Every chart made
 * is pushed to `made` (the page destroys them when it is left).
 */
export function chartGrid(keys: string[], make: (key: string) => MetricChart, made: MetricChart[]): HTMLElement {
  const grid = h("div.charts");
  const more = h("div.charts-more.muted");
  const box = h("div.chart-grid", grid, more);
  let next = 0;
  const batch = () => {
    const end = Math.min(keys.length, next + GRID_BATCH);
    for (; next < end; next++) {
      const c = make(keys[next]);
      made.push(c);
      grid.append(c.el);
    }
    more.textContent = next < keys.length ? `${next.toLocaleString()} of ${keys.length.toLocaleString()} charts; more as you scroll` : "";
    if (next < keys.length) watch(more, batch);
  };
  batch();
  return box;
}