// e2e.test.mjs - cairn's web UI in Debian's Chromium (playwright-core)
// against a real `cairn server` seeded through the REST API: every page,
// filtering, sorting, grouping, nested runs, comparing, artifacts, charts
// that really drew (canvas pixels, the spike kept), zoom at full resolution,
// URL round trips and the back button, themes, a phone-sized screen, and a
// server that cannot be reached. Screenshots go to build/ui-screenshots.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { startServer, seed, browser, inkedShare, client, SHOTS } from "./harness.mjs";

let srv;
let ids;
let br;

before(async () => {
  srv = await startServer();
  ids = await seed(srv.url);
  br = await browser();
});

after(async () => {
  await br?.close();
  await srv?.stop();
});

/** A fresh page (cold context) that fails the test on any uncaught page error. */
async function open(t, hash, opts = {}) {
  const ctx = await br.newContext({ viewport: opts.viewport ?? { width: 1280, height: 900 }, colorScheme: opts.colorScheme ?? "light" });
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  t.after(async () => {
    await ctx.close();
    assert.deepEqual(errors, [], "uncaught errors in the page");
  });
  await page.goto(srv.url + "/" + hash);
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, name + ".png"), fullPage: false });
const hashOf = (page) => page.evaluate(() => decodeURIComponent(location.hash));

test("experiments: list, search, create, rename, tags, delete and restore", async (t) => {
  const page = await open(t, "");
  await page.waitForSelector("table.experiments tr[data-id]");
  const names = await page.$$eval("table.experiments tbody td:first-child", (tds) => tds.map((td) => td.textContent));
  assert.ok(names.includes("ui-demo") && names.includes("ui-other"), names.join());
  await shot(page, "experiments");

  await page.fill("input.search", "demo");
  await page.press("input.search", "Enter");
  await page.waitForFunction(() => document.querySelectorAll("table.experiments tr[data-id]").length === 1);
  assert.match(await hashOf(page), /q=demo/);

  await page.goto(srv.url + "/#/experiments");
  await page.fill('input[aria-label="New experiment name"]', "made-in-ui");
  await page.click('form.inline button[type="submit"]:has-text("Create")');
  await page.waitForSelector("h1:has-text('made-in-ui')");
  const newId = (await hashOf(page)).match(/#\/experiments\/(\d+)\/runs/)[1];

  await page.goto(srv.url + "/#/experiments");
  const row = `tr[data-id="${newId}"]`;
  await page.click(`${row} button:has-text("Rename")`);
  await page.fill(`${row} input[aria-label="New name"]`, "renamed-in-ui");
  await page.press(`${row} input[aria-label="New name"]`, "Enter");
  await page.waitForSelector(`${row} a:has-text("renamed-in-ui")`);
  await page.fill(`${row} input.tag-input`, "stage=dev");
  await page.press(`${row} input.tag-input`, "Enter");
  await page.waitForSelector(`${row} .chip:has-text("stage=dev")`);
  const { m } = client(srv.url);
  const got = await m("GET", "experiments/get", undefined, { experiment_id: newId });
  assert.equal(got.experiment.name, "renamed-in-ui");
  assert.ok(got.experiment.tags.some((x) => x.key === "stage" && x.value === "dev"));
  // a bad tag is refused with a message, nothing sent
  await page.fill(`${row} input.tag-input`, "no-equals-sign");
  await page.press(`${row} input.tag-input`, "Enter");
  await page.waitForSelector(".banner:not([hidden]) .banner-text:has-text('key=value')");

  await page.click(`${row} button:has-text("Delete")`);
  await page.waitForSelector(row, { state: "detached" });
  await page.check("#show-deleted");
  await page.waitForSelector(`${row}.deleted`);
  await page.click(`${row} button:has-text("Restore")`);
  await page.waitForSelector(`${row}:not(.deleted)`);
  assert.equal((await m("GET", "experiments/get", undefined, { experiment_id: newId })).experiment.lifecycle_stage, "active");
});

test("runs: table, columns, sort, filter with the server's errors, group, nested, compare", async (t) => {
  const page = await open(t, `#/experiments/${ids.exp}/runs`);
  await page.waitForSelector(".vt-row[data-key]");
  const headers = await page.$$eval(".vt-th", (hs) => hs.map((x) => x.textContent));
  for (const c of ["Run", "Status", "Started", "Duration", "rmse", "lr"]) assert.ok(headers.some((x) => x.startsWith(c)), `${c} in ${headers}`);
  await shot(page, "runs");

  // sort by rmse ascending: the URL holds it and the best run comes first
  await page.click('.vt-th[data-col="metrics.rmse"]');
  await page.waitForFunction(() => decodeURIComponent(location.hash).includes("sort=-metrics.rmse"));
  await page.click('.vt-th[data-col="metrics.rmse"]');
  await page.waitForFunction(() => decodeURIComponent(location.hash).includes("sort=metrics.rmse"));
  // run-00 (rmse 0.3) sits under pipeline-run, its parent: run-07 (0.4) is the best top-level run
  await page.waitForFunction(() => document.querySelector('.vt-row[data-index="0"] a')?.textContent === "run-07");

  // a filter in MLflow's grammar
  await page.fill("input.filter", "metrics.rmse < 1 and params.model = 'tree'");
  await page.press("input.filter", "Enter");
  await page.waitForFunction(() => document.querySelector(".vt-footer")?.textContent?.startsWith("3 runs"));
  const shown = await page.$$eval(".vt-row a", (as) => as.map((a) => a.textContent));
  assert.deepEqual(shown.sort(), ["run-00", "run-18", "run-21"]);

  // a broken filter: the server's own message under the box, no blank page
  await page.fill("input.filter", "metrics.rmse <<< 1");
  await page.press("input.filter", "Enter");
  await page.waitForFunction(() => (document.querySelector("#filter-error")?.textContent ?? "").length > 5);
  const msg = await page.textContent("#filter-error");
  assert.match(msg, /rmse|<|parse|invalid/i);
  assert.equal(await page.getAttribute("input.filter", "aria-invalid"), "true");

  // columns: add one, remove one, all in the URL
  await page.goto(srv.url + `/#/experiments/${ids.exp}/runs`);
  await page.waitForSelector(".vt-row[data-key]");
  await page.fill("input.add-col", "tags.owner");
  await page.press("input.add-col", "Enter");
  await page.waitForSelector('.vt-th[data-col="tags.owner"]');
  assert.match(await hashOf(page), /cols=.*tags\.owner/);
  await page.click('button[aria-label="Remove column metrics.acc"]');
  await page.waitForFunction(() => !document.querySelector('.vt-th[data-col="metrics.acc"]'));

  // group by a param: one row per value with the metric's mean (min - max)
  await page.fill("input.group-by", "params.model");
  await page.press("input.group-by", "Enter");
  await page.waitForSelector(".vt-row.group-row");
  const groups = await page.$$eval(".vt-row.group-row", (rs) => rs.map((r) => r.textContent));
  assert.equal(groups.length, 4, groups.join(" | ")); // tree, linear, forest, (none) for runs without the param
  assert.ok(groups.some((g) => g.includes("model = tree (8)")), groups.join(" | "));
  assert.ok(groups.some((g) => /\d \(\d/.test(g)), "a group shows mean (min – max)");
  await page.click('.vt-row.group-row button.tree:has-text("tree")');
  await page.waitForFunction(() => document.querySelectorAll(".vt-row.child-row").length === 8);

  // nested runs: the pipeline run opens to show its stages
  await page.goto(srv.url + `/#/experiments/${ids.exp}/runs`);
  await page.waitForSelector(`.vt-row[data-key="${ids.pipe}"]`);
  assert.equal(await page.$(`.vt-row[data-key="${ids.stages[0]}"]`), null, "stages hidden until the parent opens");
  await page.click(`.vt-row[data-key="${ids.pipe}"] button.tree`);
  await page.waitForSelector(`.vt-row.child-row[data-key="${ids.stages[0]}"]`);
  assert.match(await page.textContent(`.vt-row[data-key="${ids.stages[1]}"]`), /unchanged/);

  // select two runs and compare
  await page.check(`.vt-row[data-key="${ids.runs[0]}"] input[type=checkbox]`);
  await page.check(`.vt-row[data-key="${ids.runs[1]}"] input[type=checkbox]`);
  await page.click("#compare");
  await page.waitForSelector("table.diff");
  const h = await hashOf(page);
  assert.ok(h.startsWith("#/compare-runs?") && h.includes(ids.runs[0]) && h.includes(ids.runs[1]), h);
});

test("an MLflow client's run link opens the run, charts draw, the back button works", async (t) => {
  // the link MLflow's client prints: View run at http://host/#/experiments/ID/runs/RUN_ID
  const page = await open(t, `#/experiments/${ids.exp}`);
  await page.waitForSelector(".vt-row[data-key]");
  await page.goto(srv.url + `/#/experiments/${ids.exp}/runs/${ids.runs[0]}`);
  await page.waitForSelector("h1:has-text('run-00')");
  const params = await page.$$eval("table.params th", (x) => x.map((e) => e.textContent));
  assert.deepEqual(params, ["depth", "lr", "model"]);
  assert.match(await page.textContent("table.datasets"), /churn-train.*d41d8cd9/s);
  await page.waitForSelector("section:has-text('Parent') a");
  await shot(page, "run-overview");

  await page.click("nav.tabs a:has-text('Metrics')");
  await page.waitForSelector('figure.chart[data-metric="train_loss"][data-drawn="1"]');
  assert.ok((await inkedShare(page, 'figure.chart[data-metric="train_loss"] canvas')) > 0.005, "the chart has ink");
  assert.equal(await page.getAttribute('figure.chart[data-metric="train_loss"]', "data-full"), "1");

  // x by relative time, log scale: the URL keeps them, the chart redraws in place
  await page.selectOption('select[aria-label="x axis"]', "relative");
  await page.waitForFunction(() => location.hash.includes("x=relative"));
  await page.check(".chart-controls input[type=checkbox]");
  await page.waitForFunction(() => location.hash.includes("log=1"));
  await page.waitForSelector('figure.chart[data-metric="train_loss"][data-drawn="1"] canvas');
  await shot(page, "run-metrics");

  // back walks to the overview (the chart options replaced their entry), then to the runs table
  await page.goBack();
  await page.waitForSelector("h1:has-text('run-00')");
  assert.match(await hashOf(page), /\/runs\/[0-9a-f]{32}$/);
  await page.goBack();
  await page.waitForSelector(".vt-row[data-key]");
  await page.goForward();
  await page.waitForSelector("h1:has-text('run-00')");
});

test("the links the real MLflow client prints open the run and its experiment", async (t) => {
  // MLflow's Python client (from ../shared/peers, made importable by tests/integration/mlflow_env.sh)
  const script = [
    "import mlflow",
    `mlflow.set_tracking_uri(${JSON.stringify(srv.url)})`,
    "mlflow.set_experiment('from-mlflow-client')",
    "with mlflow.start_run(run_name='client-run'):",
    "    mlflow.log_param('alpha', 0.5)",
    "    for i in range(30):",
    "        mlflow.log_metric('loss', 1 / (i + 1), step=i)",
    "    mlflow.log_dict({'layers': [64, 32]}, 'conf/config.json')",
  ].join("\n");
  const py = spawnSync(process.env.PY ?? "/usr/bin/python3", ["-c", script], { encoding: "utf8", timeout: 120000 });
  const out = (py.stdout ?? "") + (py.stderr ?? "");
  assert.equal(py.status, 0, out);
  const runUrl = /View run client-run at: (\S+)/.exec(out)?.[1];
  const expUrl = /View experiment at: (\S+)/.exec(out)?.[1];
  assert.ok(runUrl && expUrl, out);
  assert.ok(runUrl.startsWith(srv.url + "/#/experiments/"), runUrl);

  const page = await open(t, "");
  await page.goto(runUrl);
  await page.waitForSelector("h1:has-text('client-run')");
  assert.match(await page.textContent("table.params"), /alpha\s*0\.5/);
  await page.click("nav.tabs a:has-text('Metrics')");
  await page.waitForSelector('figure.chart[data-metric="loss"][data-drawn="1"]');
  assert.ok((await inkedShare(page, 'figure.chart[data-metric="loss"] canvas')) > 0.002);
  await page.click("nav.tabs a:has-text('Artifacts')");
  await page.click('li[data-path="conf"] button');
  await page.click('li[data-path="conf/config.json"] button');
  await page.waitForSelector("pre.code");
  assert.match(await page.textContent("pre.code"), /"layers": \[/);
  await page.goto(expUrl);
  await page.waitForSelector(".vt-row a:has-text('client-run')");
  assert.match(await page.textContent(".vt-head"), /loss/);
});

test("a pipeline run: its DAG with each stage's result, stage logs and data versions", async (t) => {
  const page = await open(t, `#/experiments/${ids.exp}/runs/${ids.pipe}`);
  await page.waitForSelector("svg.dag .dag-node");
  assert.equal(await page.$$eval("svg.dag .dag-node", (x) => x.length), 3);
  assert.equal(await page.$$eval("svg.dag path.dag-edge", (x) => x.length), 3);
  assert.ok(await page.$('svg.dag .dag-node.r-ran[data-stage="prepare"]'));
  assert.ok(await page.$('svg.dag .dag-node.r-unchanged[data-stage="train"]'));
  assert.ok(await page.$('svg.dag .dag-node.r-none[data-stage="evaluate"]'), "a stage that did not run says so");
  const row = await page.textContent('table.stages tr[data-stage="prepare"]');
  assert.match(row, /data\/raw\.csv aa11bb22cc33/);
  assert.match(row, /→ data\/clean\.csv ee55ff66aa77/);
  assert.match(await page.getAttribute('table.stages tr[data-stage="prepare"] a:has-text("log")', "href"), /artifacts\/logs\/prepare\.log$/);
  await shot(page, "pipeline");
  await page.click('svg.dag .dag-node[data-stage="train"]');
  await page.waitForSelector("h1:has-text('stage-train')");
});

test("a 100,000-point metric: envelope keeps the spike, zoom fetches full resolution", async (t) => {
  const page = await open(t, `#/experiments/${ids.exp}/runs/${ids.long}/model-metrics`);
  const fig = 'figure.chart[data-metric="loss"]';
  await page.waitForSelector(`${fig}[data-drawn="1"]`);
  assert.equal(await page.getAttribute(fig, "data-full"), "0", "a sample, not every point");
  assert.equal(Number(await page.getAttribute(fig, "data-ymax")), 1000, "the one spike of 1000 survives sampling");
  assert.ok(Number(await page.getAttribute(fig, "data-points")) <= 2500);
  assert.ok((await inkedShare(page, `${fig} canvas`)) > 0.005);
  assert.match(await page.textContent(`${fig} .chart-status`), /envelope/);
  await shot(page, "chart-100k");

  // drag across a narrow x range: the chart asks for that range at full resolution
  const over = await page.$(`${fig} .u-over`);
  const box = await over.boundingBox();
  const requests = [];
  page.on("request", (r) => r.url().includes("get-history-bulk-interval") && requests.push(r.url()));
  const x0 = box.x + box.width * 0.61;
  await page.mouse.move(x0, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(x0 + box.width * 0.01, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.full === "1", fig);
  assert.ok(requests.some((u) => u.includes("start_step=") && u.includes("end_step=")), requests.join("\n"));
  await page.dblclick(`${fig} .u-over`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.full === "0", fig);
});

test("a run with 10,000 metric keys opens at once and draws only the charts in view", async (t) => {
  const page = await open(t, `#/experiments/${ids.other}/runs/${ids.wide}/metrics`);
  const requests = [];
  page.on("request", (r) => r.url().includes("get-history-bulk-interval") && requests.push(r.url()));
  await page.waitForSelector('figure.chart[data-drawn="1"]');
  assert.equal(await page.$$eval("figure.chart", (x) => x.length), 48, "charts are built a batch at a time");
  assert.match(await page.textContent(".charts-more"), /48 of 10,000 charts/);
  await page.waitForTimeout(500);
  const drawn = await page.$$eval('figure.chart[data-drawn="1"]', (x) => x.length);
  assert.ok(drawn >= 2 && drawn <= 40, `${drawn} charts drawn`);
  assert.ok(requests.length <= 40, `${requests.length} history requests for one screen`);
  // scrolling to the end of the grid builds the next batch
  await page.locator(".charts-more").scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.querySelectorAll("figure.chart").length === 96);
  // the key filter narrows the grid; scrolling far down mounts the charts there
  await page.fill('input[aria-label="Filter metric keys"]', "m0999");
  await page.press('input[aria-label="Filter metric keys"]', "Enter");
  await page.waitForFunction(() => document.querySelectorAll("figure.chart").length === 10);
  assert.equal(await page.getAttribute('figure.chart[data-metric="m09999"]', "data-drawn"), null, "below the fold: not drawn yet");
  await page.locator('figure.chart[data-metric="m09999"]').scrollIntoViewIfNeeded();
  await page.waitForSelector('figure.chart[data-metric="m09999"][data-drawn="1"]');
});

test("artifacts: tree and previews of JSON, CSV, MLmodel, text and images", async (t) => {
  const page = await open(t, `#/experiments/${ids.exp}/runs/${ids.runs[0]}/artifacts`);
  await page.waitForSelector('li[data-path="metrics.json"]');
  await page.click('li[data-path="metrics.json"] button');
  await page.waitForSelector("pre.code");
  assert.match(await page.textContent("pre.code"), /"nested": \{\n\s+"a": \[/);
  assert.match(await hashOf(page), /\/artifacts\/metrics\.json$/);

  await page.click('li[data-path="data"] button');
  await page.click('li[data-path="data/sample.csv"] button');
  await page.waitForSelector("table.csv");
  const cells = await page.$$eval("table.csv tbody tr:nth-child(2) td", (x) => x.map((e) => e.textContent));
  assert.deepEqual(cells, ["2", "x, y", "no"]);

  await page.click('li[data-path="model"] button');
  await page.click('li[data-path="model/MLmodel"] button');
  await page.waitForSelector("pre.mlmodel");
  assert.match(await page.textContent("pre.mlmodel"), /xgboost/);

  await page.click('li[data-path="plots"] button');
  await page.click('li[data-path="plots/curve.png"] button');
  await page.waitForFunction(() => document.querySelector("img.preview-img")?.naturalWidth === 4);
  const href = await page.getAttribute(".preview-head a[download]", "href");
  const res = await fetch(srv.url + href);
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength > 50, true);
  await shot(page, "artifacts");

  // a deep link to a file inside a folder opens the folder and the preview
  await page.goto(srv.url + `/#/experiments/${ids.exp}/runs/${ids.runs[0]}/artifacts/data/sample.csv`);
  await page.waitForSelector("table.csv");
});

test("compare: diff table, overlaid charts, scatter, parallel coordinates", async (t) => {
  const runs = JSON.stringify(ids.runs.slice(0, 10));
  const page = await open(t, `#/compare-runs?runs=${encodeURIComponent(runs)}&experiments=${encodeURIComponent(JSON.stringify([ids.exp]))}`);
  await page.waitForSelector("table.diff tbody tr");
  assert.equal(await page.$$eval("table.diff thead th", (x) => x.length), 11);
  assert.ok(await page.$('table.diff tr.differs[data-key="metrics.rmse"]'));
  await page.check("#only-diff");
  await page.waitForFunction(() => location.hash.includes("diff=1"));
  const rows = await page.$$eval("table.diff tbody tr", (x) => x.map((e) => e.className));
  assert.ok(rows.length > 0 && rows.every((c) => c === "differs"), rows.join());
  // charts mount as they scroll into view
  await page.locator('figure.chart[data-metric="train_loss"]').scrollIntoViewIfNeeded();
  await page.waitForSelector('figure.chart[data-metric="train_loss"][data-drawn="1"]');
  assert.ok((await inkedShare(page, 'figure.chart[data-metric="train_loss"] canvas')) > 0.005);
  assert.equal(await page.$$eval("svg.pc polyline", (x) => x.length), 10);
  await page.waitForSelector(".scatter[data-drawn='10']");
  assert.ok((await inkedShare(page, ".scatter canvas")) > 0.001);
  await shot(page, "compare");
});

test("groups: runs grouped by a param, charted as their mean inside their min/max band", async (t) => {
  const page = await open(t, `#/experiments/${ids.exp}/runs?group=params.model`);
  await page.waitForSelector(".vt-row.group-row");
  assert.equal(await page.textContent("#compare"), "Compare groups");
  await page.click("#compare");
  await page.waitForSelector("table.diff");
  assert.match(await hashOf(page), /group=params\.model/);
  const fig = 'figure.chart[data-metric="train_loss"]';
  await page.locator(fig).scrollIntoViewIfNeeded();
  await page.waitForSelector(`${fig}[data-drawn="1"]`);
  const legend = await page.$$eval(`${fig} .chart-legend > span`, (x) => x.map((e) => e.textContent));
  assert.deepEqual(legend.sort(), ["model=forest (8)", "model=linear (8)", "model=tree (8)"]);
  // the band spans the group's runs: train_loss at step 0 is rmse + 2, rmse from 0.3 to 2.6
  assert.ok(Number(await page.getAttribute(fig, "data-ymax")) >= 4.5);
  assert.ok(Number(await page.getAttribute(fig, "data-ymin")) <= 0.5);
  assert.ok((await inkedShare(page, `${fig} canvas`)) > 0.005);
  await shot(page, "compare-groups");
  await page.selectOption('select[aria-label="Group runs by"]', "");
  await page.waitForFunction(() => !location.hash.includes("group="));
});

test("models: list, versions with aliases, lineage, promotions and the audit log", async (t) => {
  const page = await open(t, "#/models");
  await page.waitForSelector('table.models tr[data-name="churn"]');
  assert.match(await page.textContent('table.models tr[data-name="churn"]'), /@champion → v2/);
  await page.click('table.models a:has-text("churn")');
  await page.waitForSelector('table.versions tr[data-version="2"]');
  assert.match(await page.textContent('table.versions tr[data-version="2"]'), /@champion/);
  assert.match(await page.textContent("table.audit"), /promote/);
  // the URL MLflow's client prints for a version
  await page.goto(srv.url + "/#/models/churn/versions/2");
  await page.waitForSelector("section.lineage table");
  const lin = await page.textContent("section.lineage");
  assert.match(lin, /0123456789abcdef/);
  assert.match(lin, /churn-train/);
  assert.match(lin, /d41d8cd9/);
  assert.match(await page.textContent("table.promotions"), /champion/);
  await page.click("table.version-facts a");
  await page.waitForSelector("h1:has-text('run-00')");
  await page.goBack();
  await page.waitForSelector("section.lineage");
  await shot(page, "model-version");
});

test("monitors: windows, drift per feature, events", async (t) => {
  const page = await open(t, "#/monitors");
  await page.waitForSelector('table.monitors tr[data-name="churn-drift"]');
  assert.match(await page.textContent('table.monitors tr[data-name="churn-drift"]'), /firing/);
  await page.waitForSelector(".drift-chart[data-drawn='2']");
  assert.ok((await inkedShare(page, ".drift-chart canvas")) > 0.001);
  assert.equal(await page.$$eval("table.heat td.drifted", (x) => x.length), 1);
  assert.match(await page.textContent("table.events"), /firing/);
  await shot(page, "monitors");
});

test("deployments: what each model server serves, its request rate, errors and latency", async (t) => {
  const page = await open(t, "#/deployments");
  await page.waitForSelector('table.deployments tr[data-name="churn-eu"]');
  const cells = await page.$$eval('table.deployments tr[data-name="churn-eu"] td', (x) => x.map((e) => e.textContent));
  assert.match(cells[0], /churn-eu.*127\.0\.0\.1:8080/);
  assert.match(cells[1], /churn v2.*models:\/churn@champion \(followed\)/);
  assert.equal(cells[2], "serving");
  assert.match(cells[3], /^\d/, "a request rate");
  assert.equal(cells[4], "1.96 %");
  assert.equal(cells[5], "1.08 ms");
  assert.equal(cells[6], "4.92 ms");
  assert.match(await page.textContent('table.deployments tr[data-name="churn-old"]'), /stopped/);
  await page.click('table.deployments tr[data-name="churn-eu"] a:has-text("v2")');
  await page.waitForSelector("h1:has-text('Version 2')");
  await shot(page, "deployments");
});

test("themes, a 390 px screen, keyboard", async (t) => {
  const page = await open(t, `#/experiments/${ids.exp}/runs`, { colorScheme: "dark" });
  await page.waitForSelector(".vt-row[data-key]");
  assert.equal(await page.getAttribute("html", "data-theme"), "dark", "follows the system's preference");
  await page.click("button.theme");
  assert.equal(await page.getAttribute("html", "data-theme"), "light");
  await page.reload();
  await page.waitForSelector(".vt-row[data-key]");
  assert.equal(await page.getAttribute("html", "data-theme"), "light", "the choice is kept");
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, "rgb(255, 255, 255)");
  await page.click("button.theme");
  await shot(page, "runs-dark");

  // keyboard: the table scrolls with the arrow keys and PageDown
  await page.focus(".vt");
  await page.keyboard.press("PageDown");
  await page.waitForFunction(() => document.querySelector(".vt").scrollTop > 0);

  await page.setViewportSize({ width: 390, height: 800 });
  for (const hash of [`#/experiments/${ids.exp}/runs`, "#/experiments", `#/experiments/${ids.exp}/runs/${ids.runs[0]}`, "#/models/churn", "#/deployments"]) {
    await page.goto(srv.url + "/" + hash);
    await page.waitForSelector("main:not([aria-busy])");
    await page.waitForTimeout(100);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 392, `${hash}: the page is ${wide} px wide on a 390 px screen`);
  }
  await shot(page, "run-390px");
});

test("errors: a missing run, a server that cannot be reached, an unknown page", async (t) => {
  const page = await open(t, `#/experiments/${ids.exp}/runs/ffffffffffffffffffffffffffffffff`);
  await page.waitForSelector(".banner:not([hidden])");
  assert.match(await page.textContent(".banner-text"), /ffffffff|not found|does not exist/i);
  assert.ok(await page.$("main p.empty"), "a message, never a blank page");

  await page.route("**/api/**", (r) => r.abort("connectionrefused"));
  await page.goto(srv.url + "/#/experiments");
  await page.reload();
  await page.waitForSelector(".banner:not([hidden])");
  assert.match(await page.textContent(".banner-text"), /cannot be reached/);
  assert.equal(await page.getAttribute(".banner", "data-code"), "UNREACHABLE");
  await page.unroute("**/api/**");

  await page.goto(srv.url + "/#/no/such/page");
  await page.waitForSelector("h1:has-text('No such page')");
});
