// harness.mjs - what the browser tests share: a real `cairn server` on a
// free port with a fresh root and the built UI, seeded through the public
// REST API only (as MLflow's clients would), and Debian's Chromium driven by
// playwright-core (from ui/node_modules, installed by the UI's own build).

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(join(REPO, "ui", "package.json"));
export const { chromium } = require("playwright-core");
export const SHOTS = process.env.CAIRN_UI_SHOTS ?? join(REPO, "build", "ui-screenshots");
mkdirSync(SHOTS, { recursive: true });

const SANITIZER = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/;

function freePort() {
  return new Promise((ok, bad) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", bad);
  });
}

export async function startServer(extra = []) {
  const bin = process.env.CAIRN_BIN ?? join(REPO, "build", "cairn");
  const tmp = mkdtempSync(join(tmpdir(), "cairn-ui-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const ui = process.env.CAIRN_UI_DIR ?? join(REPO, "build", "ui");
  const proc = spawn(bin, ["server", "--port", String(port), "--root", join(tmp, "root"), "--ui", ui, "--no-monitors", ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (err += d));
  const deadline = Date.now() + 30000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`cairn server exited ${proc.exitCode}: ${err}`);
    try {
      if ((await fetch(url + "/health")).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error("cairn server not healthy in 30 s: " + err);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    stdout: () => out,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => proc.once("exit", r));
      }
      if (SANITIZER.test(err)) throw new Error("sanitizer report from cairn server:\n" + err.slice(-6000));
      if (proc.exitCode !== 0 && proc.signalCode !== "SIGTERM") throw new Error(`cairn server exited ${proc.exitCode}: ${err.slice(-2000)}`);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export function client(url) {
  async function call(method, path, body, query) {
    let u = url + path;
    if (query) u += "?" + new URLSearchParams(query).toString();
    const res = await fetch(u, {
      method,
      headers: body !== undefined ? { "Content-Type": "application/json" } : {},
      body: body !== undefined ? (typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body)) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }
  const m = (method, p, body, q) => call(method, "/api/2.0/mlflow/" + p, body, q);
  return { call, m };
}

/** Seed what the pages show; returns the ids the tests look for. */
export async function seed(url) {
  const { call, m } = client(url);
  const t0 = Date.UTC(2026, 10, 1, 9, 0, 0);
  const { experiment_id: exp } = await m("POST", "experiments/create", { name: "ui-demo", tags: [{ key: "team", value: "search" }] });
  const { experiment_id: other } = await m("POST", "experiments/create", { name: "ui-other" });

  const runs = [];
  const newRun = async (name, i, tags = []) => {
    const { run } = await m("POST", "runs/create", { experiment_id: exp, run_name: name, start_time: t0 + i * 60000, tags });
    return run.info.run_id;
  };
  const finish = (id, i, status = "FINISHED") => m("POST", "runs/update", { run_id: id, status, end_time: t0 + i * 60000 + 5000 + i * 1000 });
  for (let i = 0; i < 24; i++) {
    const id = await newRun(`run-${String(i).padStart(2, "0")}`, i);
    const model = ["tree", "linear", "forest"][i % 3];
    const rmse = 0.3 + ((i * 7) % 24) / 10; // distinct values, min 0.3 at i = 0
    const points = [];
    for (let s = 0; s < 50; s++) points.push({ key: "train_loss", value: rmse + 2 / (1 + s), timestamp: t0 + i * 60000 + s * 100, step: s });
    await m("POST", "runs/log-batch", {
      run_id: id,
      params: [
        { key: "lr", value: String([0.1, 0.01, 0.001][i % 3]) },
        { key: "model", value: model },
        { key: "depth", value: String(2 + (i % 5)) },
      ],
      metrics: [{ key: "rmse", value: rmse, timestamp: t0 + i * 60000, step: 0 }, { key: "acc", value: 1 - rmse / 4, timestamp: t0 + i * 60000, step: 0 }, ...points],
      tags: [{ key: "owner", value: i % 2 ? "ana" : "bo" }],
    });
    await finish(id, i, i === 5 ? "FAILED" : "FINISHED");
    runs.push(id);
  }

  // a pipeline run with its stages as child runs
  const pipe = await newRun("pipeline-run", 30, [{ key: "cairn.pipeline.file", value: "dvc.yaml" }]);
  const stages = [];
  for (const [k, [stage, result]] of [["prepare", "ran"], ["train", "unchanged"]].entries()) {
    const id = await newRun(`stage-${stage}`, 31 + k, [
      { key: "mlflow.parentRunId", value: pipe },
      { key: "cairn.stage", value: stage },
      { key: "cairn.result", value: result },
    ]);
    await finish(id, 31 + k);
    stages.push(id);
  }
  await finish(pipe, 33);
  {
    const { run } = await m("GET", "runs/get", undefined, { run_id: pipe });
    const art = run.info.artifact_uri.replace(/^mlflow-artifacts:\//, "");
    const dag = { file: "dvc.yaml", stages: [
      { name: "prepare", after: [], deps: ["data/raw.csv"], outs: ["data/clean.csv"] },
      { name: "train", after: ["prepare"], deps: ["data/clean.csv"], outs: ["model.ubj"] },
      { name: "evaluate", after: ["train", "prepare"], deps: ["model.ubj", "data/clean.csv"], outs: ["metrics.json"] },
    ] };
    await call("PUT", `/api/2.0/mlflow-artifacts/artifacts/${art}/pipeline/dag.json`, JSON.stringify(dag));
    await m("POST", "runs/log-inputs", { run_id: stages[0], datasets: [
      { dataset: { name: "data/raw.csv", digest: "aa11bb22cc33dd44", source_type: "local", source: "data/raw.csv" }, tags: [{ key: "mlflow.data.context", value: "input" }] },
      { dataset: { name: "data/clean.csv", digest: "ee55ff66aa77bb88", source_type: "local", source: "data/clean.csv" }, tags: [{ key: "mlflow.data.context", value: "output" }] },
    ] });
  }

  // a long metric with one spike that sampling must not lose
  const long = await newRun("long-100k", 40);
  const N = 100000;
  const SPIKE = 61234;
  for (let b = 0; b < N; b += 1000) {
    const metrics = [];
    for (let s = b; s < b + 1000; s++) metrics.push({ key: "loss", value: s === SPIKE ? 1000 : 1 / (1 + s / 1000) + 0.01 * Math.sin(s / 97), timestamp: t0 + 40 * 60000 + s * 10, step: s });
    await m("POST", "runs/log-batch", { run_id: long, metrics });
  }
  await finish(long, 41);

  // a run with 10,000 metric keys: its charts must mount only as they scroll into view
  const { run: wideRun } = await m("POST", "runs/create", { experiment_id: other, run_name: "wide-10k", start_time: t0 });
  const wide = wideRun.info.run_id;
  for (let b = 0; b < 10000; b += 1000) {
    const metrics = [];
    for (let k = b; k < b + 1000; k++) metrics.push({ key: `m${String(k).padStart(5, "0")}`, value: k, timestamp: t0, step: 0 });
    await m("POST", "runs/log-batch", { run_id: wide, metrics });
  }
  await finish(wide, 1);

  // artifacts of run-00 through the mlflow-artifacts proxy, as the MLflow client uploads them
  const { run: r0 } = await m("GET", "runs/get", undefined, { run_id: runs[0] });
  const base = r0.info.artifact_uri.replace(/^mlflow-artifacts:\//, "");
  const put = (path, body) => call("PUT", `/api/2.0/mlflow-artifacts/artifacts/${base}/${path}`, body);
  await put("metrics.json", JSON.stringify({ rmse: 0.3, acc: 0.925, nested: { a: [1, 2, 3] } }));
  await put("data/sample.csv", "id,feature,label\n1,0.5,yes\n2,\"x, y\",no\n3,1.5,yes\n");
  await put("model/MLmodel", "artifact_path: model\nflavors:\n  xgboost:\n    model_format: ubj\n    xgb_version: 1.7.4\n");
  await put("notes.txt", "trained on the November snapshot\n");
  const png = readFileSync(join(REPO, "tests", "ui", "pixel.png"));
  await put("plots/curve.png", new Uint8Array(png));

  // datasets, and the registry: two versions, aliases, a promotion
  await m("POST", "runs/log-inputs", {
    run_id: runs[0],
    datasets: [{ dataset: { name: "churn-train", digest: "d41d8cd9", source_type: "local", source: "data/train.csv", schema: "", profile: "" }, tags: [{ key: "mlflow.data.context", value: "training" }] }],
  });
  await m("POST", "runs/set-tag", { run_id: runs[0], key: "mlflow.source.git.commit", value: "0123456789abcdef0123456789abcdef01234567" });
  await m("POST", "runs/set-tag", { run_id: runs[0], key: "mlflow.parentRunId", value: pipe });
  await m("POST", "registered-models/create", { name: "churn", description: "predicts churn" });
  await m("POST", "model-versions/create", { name: "churn", source: r0.info.artifact_uri + "/model", run_id: runs[1] });
  await m("POST", "model-versions/create", { name: "churn", source: r0.info.artifact_uri + "/model", run_id: runs[0] });
  await m("POST", "registered-models/alias", { name: "churn", alias: "champion", version: "1" });
  await m("POST", "registered-models/alias", { name: "churn", alias: "challenger", version: "2" });
  await m("POST", "model-versions/set-tag", { name: "churn", version: "2", key: "validated", value: "yes" });
  await call("POST", "/api/cairn/v1/registry/promote", { name: "churn", from: "challenger", to: "champion", require: ["metrics.rmse <= 1"] });

  // a monitor with two recorded windows, the second drifted, through the runner API
  await call("POST", "/api/cairn/v1/monitors/create", { name: "churn-drift", spec: { model: "models:/churn@champion", window_seconds: 3600 } });
  await call("POST", "/api/cairn/v1/monitors/claim", { name: "churn-drift", owner: "ui-test", lease_ms: 600000 });
  const cols = (drifted) => ({
    age: { drift_score: drifted ? 0.001 : 0.4, drift_detected: drifted, selected_test: "ks" },
    plan: { drift_score: 0.7, drift_detected: false, selected_test: "chisquare" },
  });
  for (const [idx, drifted] of [[0, false], [1, true]]) {
    const start = (t0 + idx * 3600000) * 1000;
    await call("POST", "/api/cairn/v1/monitors/record", {
      name: "churn-drift", owner: "ui-test", lease_ms: 600000, index: idx,
      window: { start_us: start, end_us: start + 3600e6, rows: 500 + idx, requests: 500, bad_requests: 0, dataset_drift: drifted, share: drifted ? 0.5 : 0, drifted_columns: drifted ? ["age"] : [], drift: { columns: cols(drifted) } },
      state: { firing: drifted, incident: drifted ? "inc-1" : "" },
      event: drifted ? { event: "firing", incident: "inc-1", alert: { monitor: "churn-drift" } } : null,
    });
  }
  // deployments as `cairn serve` reports them: a server whose last two reports hold 102 requests
  // (2 answered 500), 50 within 1 ms and the rest within 5 ms; and one that stopped
  const promText = (ok, bad, b1, b5) => [
    `cairn_http_requests_total{route="/invocations",method="POST",status="200"} ${ok}`,
    `cairn_http_requests_total{route="/invocations",method="POST",status="500"} ${bad}`,
    `cairn_http_request_duration_seconds_bucket{route="/invocations",method="POST",le="0.001"} ${b1}`,
    `cairn_http_request_duration_seconds_bucket{route="/invocations",method="POST",le="0.005"} ${b5}`,
    `cairn_http_request_duration_seconds_bucket{route="/invocations",method="POST",le="+Inf"} ${b5}`,
    "",
  ].join("\n");
  const info = (state) => ({ url: "http://127.0.0.1:8080", pid: 4242, started: Date.now() - 3600e3, state, poll_s: 600, // a slow poller: the seeded reports stay fresh however long the tests before take
    models: [{ name: "churn", role: "primary", uri: "models:/churn@champion", version: "2", followed: true }] });
  const rep = (name, state, text) => call("POST", "/api/cairn/v1/deployments/report", { name, info: info(state), metrics: text });
  await rep("churn-eu", "serving", promText(100, 0, 10, 100));
  await rep("churn-eu", "serving", promText(200, 2, 60, 202));
  await rep("churn-old", "stopped", promText(5, 0, 5, 5));
  return { exp, other, runs, pipe, stages, long, wide, spike: SPIKE };
}

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Share of a canvas's pixels that are not the background (0..1). */
export async function inkedShare(page, selector) {
  return page.$eval(selector, (c) => {
    const ctx = c.getContext("2d");
    const { width, height } = c;
    if (!width || !height) return 0;
    const d = ctx.getImageData(0, 0, width, height).data;
    let ink = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
    return ink / (width * height);
  });
}
