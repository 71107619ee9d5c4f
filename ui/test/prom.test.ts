import { describe, expect, it } from "vitest";
import { parseProm, quantile, traffic } from "../src/prom";

const scrape = (ok: number, bad: number, b1: number, b5: number, metricsScrapes = 0) => `# HELP cairn_http_requests_total HTTP requests
# TYPE cairn_http_requests_total counter
cairn_http_requests_total{route="/invocations",method="POST",status="200"} ${ok}
cairn_http_requests_total{route="/invocations",method="POST",status="500"} ${bad}
cairn_http_requests_total{route="/metrics",method="GET",status="200"} ${metricsScrapes}
cairn_http_request_duration_seconds_bucket{route="/invocations",method="POST",le="0.001"} ${b1}
cairn_http_request_duration_seconds_bucket{route="/invocations",method="POST",le="0.005"} ${b5}
cairn_http_request_duration_seconds_bucket{route="/invocations",method="POST",le="+Inf"} ${b5}
cairn_http_request_duration_seconds_bucket{route="/metrics",method="GET",le="+Inf"} ${metricsScrapes}
cairn_serve_model_info{model="churn",version="2",label="a \\"quoted\\" one"} 1
`;

describe("Prometheus exposition", () => {
  it("reads samples, labels with escapes, +Inf", () => {
    const s = parseProm(scrape(1, 0, 1, 1));
    expect(s.find((x) => x.name === "cairn_serve_model_info")?.labels).toEqual({ model: "churn", version: "2", label: 'a "quoted" one' });
    expect(s.filter((x) => x.name.endsWith("_bucket")).length).toBe(4);
    expect(parseProm("garbage line\nok_total 3 1700000000\n")).toEqual([{ name: "ok_total", labels: {}, value: 3 }]);
  });

  it("interpolates quantiles within buckets as histogram_quantile does", () => {
    const b = new Map([[0.001, 50], [0.005, 102], [Infinity, 102]]);
    expect(quantile(0.5, b)).toBeCloseTo(0.001 + (0.004 * 1) / 52, 9);
    expect(quantile(0.99, b)).toBeCloseTo(0.001 + (0.004 * 50.98) / 52, 9);
    expect(quantile(0.5, new Map())).toBeNull();
    expect(quantile(0.99, new Map([[0.1, 1], [Infinity, 10]]))).toBe(0.1); // above the top bound
  });

  it("measures traffic between two scrapes, leaving /metrics scrapes out", () => {
    const prev = parseProm(scrape(100, 0, 10, 100, 7));
    const cur = parseProm(scrape(200, 2, 60, 202, 9));
    const t = traffic(cur, prev, 2);
    expect(t.requests).toBe(102);
    expect(t.perSecond).toBe(51);
    expect(t.errorShare).toBeCloseTo(2 / 102, 12);
    expect(t.p50).toBeCloseTo(0.001 + (0.004 * 1) / 52, 9);
    // without a previous scrape: totals since the start, a rate over the lifetime when given
    const first = traffic(cur, null, null);
    expect(first.requests).toBe(202);
    expect(first.perSecond).toBeNull();
    expect(traffic(cur, null, 101).perSecond).toBe(2);
    // a restarted server (counters fell) never gives a negative rate
    expect(traffic(prev, cur, 1).requests).toBe(0);
  });
});
