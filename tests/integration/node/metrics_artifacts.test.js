'use strict';
// Metrics.getHistory and Artifacts.list through the npm `mlflow` client.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setup, uniqueName, raw, cairnOnlySkip } = require('./lib.js');

describe('metric history and artifacts (npm mlflow client)', () => {
  const ctx = setup(before, after);
  let eid;
  before(async () => {
    ({ experiment_id: eid } = await ctx.client.Experiments.create({ name: uniqueName('hist') }));
  });
  const newRunId = async () => (await ctx.client.Runs.create({ experiment_id: eid, start_time: Date.now() })).run.info.run_id;

  it('returns no history for a never-logged key', async () => {
    const run_id = await newRunId();
    const res = await ctx.client.Metrics.getHistory({ run_id, metric_key: 'never' });
    assert.deepEqual(res.metrics || [], []);
  });

  // The client sends no max_results; MLflow 3.5.2.dev0 then answers an empty page plus a
  // next_page_token (an upstream regression), MLflow 2.x and cairn answer the history.
  it('returns the whole history in (timestamp, step) order', { skip: cairnOnlySkip }, async () => {
    const run_id = await newRunId();
    const pts = [[5, 3000, 1], [1, 1000, 9], [3, 2000, 4], [2, 2000, 2], [4, 1000, 3]];
    await ctx.client.Runs.logBatch({
      run_id, metrics: pts.map(([value, timestamp, step]) => ({ key: 'h', value, timestamp, step })),
    });
    const res = await ctx.client.Metrics.getHistory({ run_id, metric_key: 'h' });
    assert.deepEqual(res.metrics.map((m) => [m.timestamp, m.step, m.value]),
      [[1000, 3, 4], [1000, 9, 1], [2000, 2, 2], [2000, 4, 3], [3000, 1, 5]]);
    assert.ok(!res.next_page_token);
    const { run } = await ctx.client.Runs.get({ run_id });
    assert.deepEqual(run.data.metrics, [{ key: 'h', value: 1, timestamp: 1000, step: 9 }]); // max step wins
  });

  it('lists no artifacts for a fresh run', async () => {
    const run_id = await newRunId();
    const res = await ctx.client.Artifacts.list({ run_id });
    assert.equal(res.root_uri, `mlflow-artifacts:/${eid}/${run_id}/artifacts`);
    assert.deepEqual(res.files || [], []);
  });

  it('lists artifacts uploaded through the proxy', async () => {
    const run_id = await newRunId();
    const base = `/api/2.0/mlflow-artifacts/artifacts/${eid}/${run_id}/artifacts`;
    for (const [p, body] of [['model.txt', 'weights'], ['plots/a.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2])]]) {
      const r = await raw(ctx, 'PUT', `${base}/${p}`, body);
      assert.equal(r.status, 200, r.text);
    }
    const top = await ctx.client.Artifacts.list({ run_id });
    assert.deepEqual(top.files, [{ path: 'model.txt', is_dir: false, file_size: 7 }, { path: 'plots', is_dir: true }]);
    const plots = await ctx.client.Artifacts.list({ run_id, path: 'plots' });
    assert.deepEqual(plots.files, [{ path: 'plots/a.png', is_dir: false, file_size: 7 }]);
    const back = await fetch(`${ctx.url}${base}/plots/a.png`);
    assert.equal(back.status, 200);
    assert.deepEqual(Buffer.from(await back.arrayBuffer()), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]));
  });

  it('rejects artifact listing paths that escape the run', async () => {
    const run_id = await newRunId();
    for (const p of ['../x', '/etc', 'a/../../b']) {
      const r = await raw(ctx, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${run_id}&path=${encodeURIComponent(p)}`);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error_code, 'INVALID_PARAMETER_VALUE');
    }
  });
});
