// sample.ts - what a chart draws from a series: at most one low and one high
// point per horizontal bucket (a min/max envelope, so no spike is lost
// however many points the series has), optional smoothing, and the x values
// a user picks (step, wall time, time since the run's first point).

export interface Series {
  x: number[]; // ascending
  y: number[];
  lo?: number[]; // a group's lowest value at each x (default: y)
  hi?: number[]; // and its highest
}

export interface Envelope {
  x: number[]; // one per non-empty bucket: the bucket's first x
  lo: number[]; // the bucket's lowest finite y
  hi: number[]; // the bucket's highest finite y
  mid: number[]; // the mean of the bucket's finite y (the line drawn through the band)
}

/**
 * Reduce s to at most `buckets` equal-width x buckets over [x0, x1] (default:
 * the whole series), each giving its min, max and last value. Points outside
 * [x0, x1] are left out; NaN and infinite values never set lo/hi. A series
 * with no more points than buckets comes back point for point (lo = hi = y).
 */
export function envelope(s: Series, buckets: number, x0?: number, x1?: number): Envelope {
  const out: Envelope = { x: [], lo: [], hi: [], mid: [] };
  const n = s.x.length;
  if (!n || buckets < 1) return out;
  let i = 0;
  let j = n;
  if (x0 !== undefined) i = lowerBound(s.x, x0);
  if (x1 !== undefined) j = upperBound(s.x, x1);
  if (i >= j) return out;
  const a = x0 ?? s.x[i];
  const b = x1 ?? s.x[j - 1];
  if (j - i <= buckets || b <= a) {
    for (let k = i; k < j; k++) {
      out.x.push(s.x[k]);
      out.lo.push(s.lo ? s.lo[k] : s.y[k]);
      out.hi.push(s.hi ? s.hi[k] : s.y[k]);
      out.mid.push(s.y[k]);
    }
    return out;
  }
  const width = (b - a) / buckets;
  let k = i;
  while (k < j) {
    const bucket = Math.min(buckets - 1, Math.floor((s.x[k] - a) / width));
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    let n = 0;
    let last = NaN;
    const first = s.x[k];
    for (; k < j && Math.min(buckets - 1, Math.floor((s.x[k] - a) / width)) === bucket; k++) {
      const y = s.y[k];
      last = y;
      if (!Number.isFinite(y)) continue;
      const yl = s.lo ? s.lo[k] : y;
      const yh = s.hi ? s.hi[k] : y;
      if (yl < lo) lo = yl;
      if (yh > hi) hi = yh;
      sum += y;
      n++;
    }
    out.x.push(first);
    out.lo.push(lo === Infinity ? NaN : lo);
    out.hi.push(hi === -Infinity ? NaN : hi);
    out.mid.push(n ? sum / n : last);
  }
  return out;
}

/** First index with x[i] >= v. */
export function lowerBound(x: number[], v: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x[m] < v) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** First index with x[i] > v. */
export function upperBound(x: number[], v: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x[m] <= v) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/**
 * Exponential moving average with TensorBoard's debiasing, weight in [0, 1):
 * 0 leaves the series as it is. Non-finite values pass through unchanged and
 * do not disturb the average.
 */
export function smooth(y: number[], weight: number): number[] {
  if (weight <= 0) return y.slice();
  const out = new Array<number>(y.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}

export type XMode = "step" | "wall" | "relative";

export interface Point {
  step: number;
  timestamp: number;
  value: number;
  lo?: number; // a group's point: the lowest and highest of its runs at this step
  hi?: number;
}

/** The series to draw for points (sorted by step) on the chosen x axis, x ascending. */
export function toSeries(points: Point[], mode: XMode): Series {
  let t0 = Infinity;
  for (const p of points) if (p.timestamp < t0) t0 = p.timestamp;
  const xs = points.map((p) => ({ x: mode === "step" ? p.step : mode === "wall" ? p.timestamp / 1000 : (p.timestamp - t0) / 1000, p }));
  if (mode !== "step") xs.sort((a, b) => a.x - b.x);
  const out: Series = { x: xs.map((e) => e.x), y: xs.map((e) => e.p.value) };
  if (points.some((p) => p.lo !== undefined)) {
    out.lo = xs.map((e) => e.p.lo ?? e.p.value);
    out.hi = xs.map((e) => e.p.hi ?? e.p.value);
  }
  return out;
}

/**
 * A group of runs as one series: at each step any of them logged, the mean
 * of their finite values (the line), and their lowest and highest (the band),
 * as W&B draws a group. The timestamp is the earliest at that step. Each
 * member's points are sorted by step; one value per run and step is used
 * (its last).
 */
export function aggregate(members: Point[][]): Point[] {
  const at = new Map<number, { sum: number; n: number; lo: number; hi: number; ts: number }>();
  for (const pts of members) {
    const last = new Map<number, Point>();
    for (const p of pts) last.set(p.step, p);
    for (const p of last.values()) {
      let a = at.get(p.step);
      if (!a) at.set(p.step, (a = { sum: 0, n: 0, lo: Infinity, hi: -Infinity, ts: p.timestamp }));
      if (p.timestamp < a.ts) a.ts = p.timestamp;
      if (!Number.isFinite(p.value)) continue;
      a.sum += p.value;
      a.n++;
      a.lo = Math.min(a.lo, p.lo ?? p.value);
      a.hi = Math.max(a.hi, p.hi ?? p.value);
    }
  }
  return [...at.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([step, a]) => (a.n ? { step, timestamp: a.ts, value: a.sum / a.n, lo: a.lo, hi: a.hi } : { step, timestamp: a.ts, value: NaN }));
}

/** What a chart holds of a series: a step range (null: all of it) and
 * whether every point of that range is there (not a sample). */
export interface Held {
  range: [number, number] | null;
  full: boolean;
}

/** Whether showing the step range `want` at full resolution needs a new request. */
export function needsRefetch(held: Held, want: [number, number]): boolean {
  if (!held.full) return true;
  if (!held.range) return false;
  return want[0] < held.range[0] || want[1] > held.range[1];
}
