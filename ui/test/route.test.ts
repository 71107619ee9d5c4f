import { describe, expect, it } from "vitest";
import { parseHash, formatHash, withQuery, type Route } from "../src/route";

describe("routes", () => {
  it("reads the links MLflow's client prints", () => {
    expect(parseHash("#/experiments/3/runs/abc123")).toEqual({ page: "run", experimentId: "3", runId: "abc123", tab: "overview", artifact: "", q: {} });
    expect(parseHash("#/models/churn/versions/4")).toEqual({ page: "version", name: "churn", version: "4", q: {} });
    expect(parseHash("#/experiments/3")).toEqual({ page: "runs", experimentId: "3", q: {} });
    expect(parseHash("")).toEqual({ page: "experiments", q: {} });
  });

  it("maps MLflow's tab names onto ours", () => {
    expect(parseHash("#/experiments/1/runs/r/model-metrics")).toMatchObject({ tab: "metrics" });
    expect(parseHash("#/experiments/1/runs/r/system-metrics")).toMatchObject({ tab: "metrics" });
    expect(parseHash("#/experiments/1/runs/r/bogus")).toMatchObject({ tab: "overview" });
    expect(parseHash("#/experiments/1/runs/r/artifacts/model/MLmodel")).toMatchObject({ tab: "artifacts", artifact: "model/MLmodel" });
  });

  it("reads compare lists as MLflow writes them, and as commas", () => {
    const r = parseHash('#/compare-runs?runs=["a","b"]&experiments=["1"]&diff=1');
    expect(r).toEqual({ page: "compare", runIds: ["a", "b"], experimentIds: ["1"], q: { diff: "1" } });
    expect(parseHash("#/compare-runs?runs=a,b,c")).toMatchObject({ runIds: ["a", "b", "c"], experimentIds: [] });
    expect(parseHash("#/compare-runs?runs=[broken")).toMatchObject({ runIds: ["[broken"] });
  });

  it("round-trips every page, odd characters included", () => {
    const routes: Route[] = [
      { page: "experiments", q: { q: "a b&c" } },
      { page: "runs", experimentId: "7", q: { filter: "metrics.`val loss` < 0.5 AND params.x = 'a#b'", sort: "-metrics.rmse", cols: "metrics.a,params.b" } },
      { page: "run", experimentId: "7", runId: "r1", tab: "metrics", artifact: "", q: { x: "relative", log: "1" } },
      { page: "run", experimentId: "7", runId: "r1", tab: "artifacts", artifact: "dir with space/ü.json", q: {} },
      { page: "compare", runIds: ["a", "b"], experimentIds: ["1"], q: { sx: "params.lr" } },
      { page: "models", q: {} },
      { page: "model", name: "churn/eu", q: {} },
      { page: "version", name: "a b", version: "12", q: {} },
      { page: "monitors", q: { name: "m" } },
      { page: "deployments", q: {} },
    ];
    for (const r of routes) expect(parseHash(formatHash(r))).toEqual(r);
  });

  it("changes and removes query keys", () => {
    const r: Route = { page: "runs", experimentId: "1", q: { filter: "x", sort: "y" } };
    expect(withQuery(r, { filter: "", cols: "metrics.a" }).q).toEqual({ sort: "y", cols: "metrics.a" });
    expect(r.q).toEqual({ filter: "x", sort: "y" }); // the original is untouched
  });

  it("names an unknown page instead of guessing", () => {
    expect(parseHash("#/nothing/here")).toMatchObject({ page: "notfound", path: "/nothing/here" });
  });
});
