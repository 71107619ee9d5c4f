'use strict';
// Runs through the npm `mlflow` client: create/get/update/delete/restore, metrics, params,
// tags, log-batch and its limits.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setup, uniqueName, rejectsWith, tagMap } = require('./lib.js');

describe('runs (npm mlflow client)', () => {
  const ctx = setup(before, after);
  let experiment_id;
  before(async () => {
    ({ experiment_id } = await ctx.client.Experiments.create({ name: uniqueName('runs') }));
  });
  const newRun = async (extra = {}) =>
    (await ctx.client.Runs.create({ experiment_id, start_time: Date.now(), ...extra })).run;

  it('creates a run with the documented fields', async () => {
    const { info, data } = await newRun({ start_time: 1600000000123, user_id: 'ann',
      tags: [{ key: 'team', value: 'node' }] });
    assert.match(info.run_id, /^[0-9a-f]{32}$/);
    assert.equal(info.run_uuid, info.run_id);
    assert.equal(info.experiment_id, experiment_id);
    assert.equal(info.user_id, 'ann');
    assert.equal(info.status, 'RUNNING');
    assert.equal(info.start_time, 1600000000123);
    assert.equal(info.lifecycle_stage, 'active');
    assert.equal(info.artifact_uri, `mlflow-artifacts:/${experiment_id}/${info.run_id}/artifacts`);
    const tags = tagMap(data.tags);
    assert.equal(tags.team, 'node');
    assert.equal(tags['mlflow.runName'], info.run_name);
    assert.ok(info.run_name.length > 0);
    const { run } = await ctx.client.Runs.get({ run_id: info.run_id });
    assert.deepEqual(run.info, info);
  });

  it('logs metrics, params and tags one by one', async () => {
    const { info } = await newRun();
    const run_id = info.run_id;
    assert.deepEqual(await ctx.client.Runs.logMetric({ run_id, key: 'acc', value: 0.5, timestamp: 1000, step: 1 }), {});
    await ctx.client.Runs.logMetric({ run_id, key: 'acc', value: 0.75, timestamp: 2000, step: 2 });
    await ctx.client.Runs.logMetric({ run_id, key: 'loss', value: 1.25, timestamp: 1500 }); // no step: 0
    await ctx.client.Runs.logParameter({ run_id, key: 'lr', value: '0.01' });
    await ctx.client.Runs.setTag({ run_id, key: 'phase', value: 'train' });
    const { run } = await ctx.client.Runs.get({ run_id });
    const metrics = Object.fromEntries(run.data.metrics.map((m) => [m.key, m]));
    assert.deepEqual(metrics.acc, { key: 'acc', value: 0.75, timestamp: 2000, step: 2 });
    assert.deepEqual(metrics.loss, { key: 'loss', value: 1.25, timestamp: 1500, step: 0 });
    assert.deepEqual(run.data.params, [{ key: 'lr', value: '0.01' }]);
    assert.equal(tagMap(run.data.tags).phase, 'train');
  });

  it('keeps params immutable', async () => {
    const run_id = (await newRun()).info.run_id;
    await ctx.client.Runs.logParameter({ run_id, key: 'p', value: '1' });
    await ctx.client.Runs.logParameter({ run_id, key: 'p', value: '1' });
    const info = await rejectsWith(ctx.client.Runs.logParameter({ run_id, key: 'p', value: '2' }), 400, 'INVALID_PARAMETER_VALUE');
    assert.match(info.data.message, /p/);
    const { run } = await ctx.client.Runs.get({ run_id });
    assert.deepEqual(run.data.params, [{ key: 'p', value: '1' }]);
  });

  it('deletes a tag, and 404s a missing one', async () => {
    const run_id = (await newRun()).info.run_id;
    await ctx.client.Runs.setTag({ run_id, key: 'gone', value: 'x' });
    await ctx.client.Runs.deleteTag({ run_id, key: 'gone' });
    const { run } = await ctx.client.Runs.get({ run_id });
    assert.equal(tagMap(run.data.tags).gone, undefined);
    await rejectsWith(ctx.client.Runs.deleteTag({ run_id, key: 'gone' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('logs a batch', async () => {
    const run_id = (await newRun()).info.run_id;
    const res = await ctx.client.Runs.logBatch({
      run_id,
      metrics: [{ key: 'm', value: 1, timestamp: 10, step: 0 }, { key: 'm', value: 3, timestamp: 20, step: 1 }],
      params: [{ key: 'a', value: 'x' }, { key: 'b', value: 'y' }],
      tags: [{ key: 't', value: 'z' }],
    });
    assert.deepEqual(res, {});
    const { run } = await ctx.client.Runs.get({ run_id });
    assert.deepEqual(run.data.metrics, [{ key: 'm', value: 3, timestamp: 20, step: 1 }]);
    assert.deepEqual(run.data.params.map((p) => p.key).sort(), ['a', 'b']);
    assert.equal(tagMap(run.data.tags).t, 'z');
  });

  it('enforces log-batch limits with INVALID_PARAMETER_VALUE', async () => {
    const run_id = (await newRun()).info.run_id;
    const metrics = (n) => Array.from({ length: n }, (_, i) => ({ key: `m${i}`, value: i, timestamp: 1, step: 0 }));
    const params = (n) => Array.from({ length: n }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    let info = await rejectsWith(ctx.client.Runs.logBatch({ run_id, metrics: metrics(1001) }), 400, 'INVALID_PARAMETER_VALUE');
    assert.match(info.data.message, /at most 1000 metrics/);
    info = await rejectsWith(ctx.client.Runs.logBatch({ run_id, params: params(101) }), 400, 'INVALID_PARAMETER_VALUE');
    assert.match(info.data.message, /at most 100 params/);
    await rejectsWith(ctx.client.Runs.logBatch({ run_id, params: [{ key: 'd', value: '1' }, { key: 'd', value: '1' }] }),
      400, 'INVALID_PARAMETER_VALUE');
    await ctx.client.Runs.logBatch({ run_id, metrics: metrics(1000) });
    const { run } = await ctx.client.Runs.get({ run_id });
    assert.equal(run.data.metrics.length, 1000);
    assert.equal(run.data.params, undefined);
  });

  it('updates status and end time', async () => {
    const run_id = (await newRun()).info.run_id;
    const { run_info } = await ctx.client.Runs.update({ run_id, status: 'FINISHED', end_time: 1700000000999 });
    assert.equal(run_info.run_id, run_id);
    assert.equal(run_info.status, 'FINISHED');
    assert.equal(run_info.end_time, 1700000000999);
    const { run } = await ctx.client.Runs.get({ run_id });
    assert.equal(run.info.status, 'FINISHED');
    assert.equal(run.info.end_time, 1700000000999);
  });

  it('deletes and restores a run', async () => {
    const run_id = (await newRun()).info.run_id;
    await ctx.client.Runs.delete({ run_id });
    assert.equal((await ctx.client.Runs.get({ run_id })).run.info.lifecycle_stage, 'deleted');
    await rejectsWith(ctx.client.Runs.logMetric({ run_id, key: 'm', value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE');
    await ctx.client.Runs.restore({ run_id });
    assert.equal((await ctx.client.Runs.get({ run_id })).run.info.lifecycle_stage, 'active');
    await ctx.client.Runs.logMetric({ run_id, key: 'm', value: 1, timestamp: 1 });
  });

  it('answers 404 RESOURCE_DOES_NOT_EXIST for unknown runs', async () => {
    const run_id = '0123456789abcdef0123456789abcdef';
    await rejectsWith(ctx.client.Runs.get({ run_id }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await rejectsWith(ctx.client.Runs.logMetric({ run_id, key: 'm', value: 1, timestamp: 1 }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await rejectsWith(ctx.client.Runs.update({ run_id, status: 'FINISHED', end_time: 1 }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await rejectsWith(ctx.client.Runs.create({ experiment_id: '987654321', start_time: 1 }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('rejects bad metric values and keys', async () => {
    const run_id = (await newRun()).info.run_id;
    await rejectsWith(ctx.client.Runs.logMetric({ run_id, key: 'm', value: 'abc', timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE');
    await rejectsWith(ctx.client.Runs.logMetric({ run_id, key: 'bad key!', value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE');
    await rejectsWith(ctx.client.Runs.logMetric({ run_id, key: 'm', value: 1, timestamp: -5 }), 400, 'INVALID_PARAMETER_VALUE');
    const { run } = await ctx.client.Runs.get({ run_id });
    assert.equal(run.data.metrics, undefined);
  });

  it('truncates long param and tag values', async () => {
    const run_id = (await newRun()).info.run_id;
    await ctx.client.Runs.logParameter({ run_id, key: 'lp', value: 'x'.repeat(7000) });
    await ctx.client.Runs.setTag({ run_id, key: 'lt', value: 'y'.repeat(9000) });
    const { run } = await ctx.client.Runs.get({ run_id });
    assert.equal(run.data.params[0].value, 'x'.repeat(6000));
    assert.equal(tagMap(run.data.tags).lt, 'y'.repeat(8000));
  });
});
