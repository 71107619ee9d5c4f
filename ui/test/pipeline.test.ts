import { describe, expect, it } from "vitest";
import { layers } from "../src/pages/pipeline";

describe("the pipeline DAG's columns", () => {
  it("puts each stage after the longest chain before it", () => {
    const d = layers([
      { name: "prepare", after: [] },
      { name: "featurize", after: ["prepare"] },
      { name: "train", after: ["featurize", "prepare"] },
      { name: "report", after: [] },
    ]);
    expect(Object.fromEntries(d)).toEqual({ prepare: 0, featurize: 1, train: 2, report: 0 });
  });

  it("ignores unknown stages and does not loop on a cycle", () => {
    const d = layers([
      { name: "a", after: ["b", "ghost"] },
      { name: "b", after: ["a"] },
    ]);
    expect(d.size).toBe(2);
  });
});
