import { describe, expect, it } from "vitest";
import { aggregate, envelope, smooth, toSeries, needsRefetch, lowerBound, upperBound } from "../src/sample";
import { parseCsv } from "../src/csv";

function series(n: number, f: (i: number) => number) {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    x.push(i);
    y.push(f(i));
  }
  return { x, y };
}

describe("the min/max envelope", () => {
  it("keeps every spike of a long series in a few buckets", () => {
    const s = series(1_000_000, (i) => (i === 777_777 ? 1e6 : i === 123_456 ? -1e6 : Math.sin(i / 100)));
    const e = envelope(s, 500);
    expect(e.x.length).toBeLessThanOrEqual(500);
    expect(Math.max(...e.hi)).toBe(1e6);
    expect(Math.min(...e.lo)).toBe(-1e6);
    for (let k = 0; k < e.x.length; k++) expect(e.lo[k]).toBeLessThanOrEqual(e.hi[k]);
  });

  it("draws a fast periodic signal as a band around its mean, not as a slow false wave", () => {
    const s = series(1_000_000, (i) => Math.sin((2 * Math.PI * i) / 609)); // period 609 steps
    const e = envelope(s, 300); // ~3,333 steps a bucket: several periods each
    for (let k = 0; k < e.x.length - 1; k++) {
      expect(e.hi[k]).toBeGreaterThan(0.99);
      expect(e.lo[k]).toBeLessThan(-0.99);
      expect(Math.abs(e.mid[k])).toBeLessThan(0.2);
    }
  });

  it("gives a short series back point for point", () => {
    const s = series(10, (i) => i * 2);
    expect(envelope(s, 100)).toEqual({ x: s.x, lo: s.y, hi: s.y, mid: s.y });
  });

  it("re-buckets only the zoomed range, at full resolution when it is small", () => {
    const s = series(100_000, (i) => i);
    const e = envelope(s, 1000, 5000, 5100);
    expect(e.x[0]).toBe(5000);
    expect(e.x[e.x.length - 1]).toBe(5100);
    expect(e.x.length).toBe(101);
    expect(envelope(s, 10, 200_000, 300_000).x).toEqual([]);
  });

  it("leaves NaN and infinities out of the band", () => {
    const e = envelope({ x: [0, 1, 2, 3], y: [NaN, 1, Infinity, 2] }, 1);
    expect(e.lo).toEqual([1]);
    expect(e.hi).toEqual([2]);
  });

  it("finds bounds", () => {
    const x = [1, 2, 2, 3];
    expect(lowerBound(x, 2)).toBe(1);
    expect(upperBound(x, 2)).toBe(3);
    expect(lowerBound(x, 9)).toBe(4);
  });
});

describe("smoothing, x axes and refetching", () => {
  it("smooths with debiasing and leaves weight 0 alone", () => {
    expect(smooth([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const out = smooth([5, 5, 5, 5], 0.9);
    for (const v of out) expect(v).toBeCloseTo(5, 10); // debiased: a constant stays constant
    expect(smooth([1, NaN, 1], 0.5)[1]).toBeNaN();
  });

  it("puts points on step, wall or relative time", () => {
    const pts = [
      { step: 0, timestamp: 2000, value: 1 },
      { step: 1, timestamp: 1000, value: 2 },
    ];
    expect(toSeries(pts, "step")).toEqual({ x: [0, 1], y: [1, 2] });
    expect(toSeries(pts, "relative")).toEqual({ x: [0, 1], y: [2, 1] });
    expect(toSeries(pts, "wall")).toEqual({ x: [1, 2], y: [2, 1] });
  });

  it("asks the server again only when what it holds does not cover the zoom", () => {
    expect(needsRefetch({ range: null, full: false }, [0, 10])).toBe(true);
    expect(needsRefetch({ range: null, full: true }, [0, 10])).toBe(false);
    expect(needsRefetch({ range: [0, 100], full: true }, [10, 20])).toBe(false);
    expect(needsRefetch({ range: [10, 100], full: true }, [0, 20])).toBe(true);
  });
});

describe("csv previews", () => {
  it("reads quotes, doubled quotes, CRLF and a missing last newline", () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\n1,2')).toEqual([["a", "b"], ["x, y", 'say "hi"'], ["1", "2"]]);
    expect(parseCsv("a\tb\n1\t2\n", "\t")).toEqual([["a", "b"], ["1", "2"]]);
    expect(parseCsv("1\n2\n3\n4\n", ",", 2)).toEqual([["1"], ["2"]]);
    expect(parseCsv("")).toEqual([]);
  });
});

describe("groups of runs", () => {
  const pts = (vals: [number, number][]) => vals.map(([step, value]) => ({ step, timestamp: 1000 + step, value }));
  it("gives each step its runs' mean, lowest and highest", () => {
    const g = aggregate([pts([[0, 1], [1, 2], [2, 3]]), pts([[0, 3], [1, 4]]), pts([[1, NaN], [2, 5]])]);
    expect(g).toEqual([
      { step: 0, timestamp: 1000, value: 2, lo: 1, hi: 3 },
      { step: 1, timestamp: 1001, value: 3, lo: 2, hi: 4 },
      { step: 2, timestamp: 1002, value: 4, lo: 3, hi: 5 },
    ]);
  });
  it("carries the band through the x axis and the envelope", () => {
    const g = aggregate([pts([[0, 0], [1, 10]]), pts([[0, 2], [1, 30]])]);
    const s = toSeries(g, "step");
    expect(s).toEqual({ x: [0, 1], y: [1, 20], lo: [0, 10], hi: [2, 30] });
    const e = envelope(s, 1, 0, 1e9);
    expect(e.lo).toEqual([0]);
    expect(e.hi).toEqual([30]);
  });
});
