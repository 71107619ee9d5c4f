import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../src/api";

describe("the sampled chart request", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("asks for cairn's min/max-preserving sampling (the server's default is MLflow's step sampling)", async () => {
    const urls: string[] = [];
    vi.stubGlobal("fetch", async (url: string) => {
      urls.push(url);
      return new Response('{"metrics": []}', { status: 200 });
    });
    await api.metricSampled(["a", "b"], "loss", 320, [10, 20]);
    expect(urls).toHaveLength(1);
    const q = new URL(urls[0], "http://x").searchParams;
    expect(new URL(urls[0], "http://x").pathname).toBe("/api/2.0/mlflow/metrics/get-history-bulk-interval");
    expect(q.get("cairn_envelope")).toBe("true");
    expect(q.getAll("run_ids")).toEqual(["a", "b"]);
    expect(q.get("max_results")).toBe("320");
    expect([q.get("start_step"), q.get("end_step")]).toEqual(["10", "20"]);
  });
});
