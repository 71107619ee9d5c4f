import { describe, expect, it } from "vitest";
import { arrange, valueOf } from "../src/pages/runs";
import type { Run } from "../src/api";

const run = (id: string, tags: Record<string, string> = {}, params: Record<string, string> = {}, metrics: Record<string, number> = {}): Run => ({
  info: { run_id: id, experiment_id: "1", status: "FINISHED", lifecycle_stage: "active", start_time: 1000, end_time: 4000 },
  data: {
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
    metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0, timestamp: 0 })),
  },
});

describe("runs table rows", () => {
  const p = run("p");
  const a = run("a", { "mlflow.parentRunId": "p" });
  const b = run("b", { "mlflow.parentRunId": "a" });
  const orphan = run("o", { "mlflow.parentRunId": "gone" });

  it("puts children under an open parent, in the server's order otherwise", () => {
    expect(arrange([p, a, b, orphan], new Set(), null).map((r) => (r.kind === "run" ? r.run.info.run_id : ""))).toEqual(["p", "o"]);
    const open = arrange([p, a, b, orphan], new Set(["p", "a"]), null);
    expect(open.map((r) => (r.kind === "run" ? [r.run.info.run_id, r.depth, r.kids] : null))).toEqual([
      ["p", 0, 1],
      ["a", 1, 1],
      ["b", 2, 0],
      ["o", 0, 0],
    ]);
  });

  it("survives parent tags that form a cycle", () => {
    const x = run("x", { "mlflow.parentRunId": "y" });
    const y = run("y", { "mlflow.parentRunId": "x" });
    const rows = arrange([x, y], new Set(["x", "y"]), null);
    expect(rows.length).toBeLessThanOrEqual(2);
  });

  it("groups by a column, runs without it in (none)", () => {
    const rs = [run("1", {}, { model: "tree" }), run("2", {}, { model: "lin" }), run("3", {}, { model: "tree" }), run("4")];
    const rows = arrange(rs, new Set(["g:tree"]), { kind: "params", key: "model" });
    expect(rows.map((r) => (r.kind === "group" ? `${r.value}:${r.runs.length}` : r.run.info.run_id))).toEqual(["tree:2", "1", "3", "lin:1", "(none):1"]);
  });

  it("reads values of every kind, duration included", () => {
    const r = run("r", { t: "v" }, { p: "1" }, { m: 0.5 });
    expect(valueOf(r, { kind: "metrics", key: "m" })).toBe(0.5);
    expect(valueOf(r, { kind: "params", key: "p" })).toBe("1");
    expect(valueOf(r, { kind: "tags", key: "t" })).toBe("v");
    expect(valueOf(r, { kind: "attributes", key: "duration" })).toBe(3000);
    expect(valueOf(r, { kind: "metrics", key: "none" })).toBeUndefined();
  });
});
