'use strict';
// Experiments through the npm `mlflow` client (create/get/update/delete/restore).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setup, uniqueName, rejectsWith, raw, tagMap } = require('./lib.js');

describe('experiments (npm mlflow client)', () => {
  const ctx = setup(before, after);

  it('creates and gets an experiment', async () => {
    const name = uniqueName('exp');
    const t0 = Date.now() - 5000;
    const { experiment_id } = await ctx.client.Experiments.create({ name });
    assert.match(experiment_id, /^[0-9]+$/);
    const { experiment } = await ctx.client.Experiments.get({ experiment_id });
    assert.equal(experiment.experiment_id, experiment_id);
    assert.equal(experiment.name, name);
    assert.equal(experiment.lifecycle_stage, 'active');
    assert.equal(experiment.artifact_location, `mlflow-artifacts:/${experiment_id}`);
    assert.ok(experiment.creation_time >= t0 && experiment.creation_time <= Date.now() + 5000);
    assert.ok(experiment.last_update_time >= experiment.creation_time);
  });

  it('rejects a duplicate name with RESOURCE_ALREADY_EXISTS (400)', async () => {
    const name = uniqueName('dup');
    await ctx.client.Experiments.create({ name });
    await rejectsWith(ctx.client.Experiments.create({ name }), 400, 'RESOURCE_ALREADY_EXISTS');
  });

  it('rejects an empty name with INVALID_PARAMETER_VALUE (400)', async () => {
    await rejectsWith(ctx.client.Experiments.create({ name: '' }), 400, 'INVALID_PARAMETER_VALUE');
  });

  it('answers 404 RESOURCE_DOES_NOT_EXIST for an unknown experiment', async () => {
    await rejectsWith(ctx.client.Experiments.get({ experiment_id: '987654321' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await rejectsWith(ctx.client.Experiments.delete({ experiment_id: '987654321' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('renames an experiment', async () => {
    const name = uniqueName('ren');
    const { experiment_id } = await ctx.client.Experiments.create({ name });
    const res = await ctx.client.Experiments.update({ experiment_id, new_name: `${name}-new` });
    assert.deepEqual(res, {});
    const { experiment } = await ctx.client.Experiments.get({ experiment_id });
    assert.equal(experiment.name, `${name}-new`);
  });

  it('deletes and restores an experiment', async () => {
    const { experiment_id } = await ctx.client.Experiments.create({ name: uniqueName('del') });
    await ctx.client.Experiments.delete({ experiment_id });
    assert.equal((await ctx.client.Experiments.get({ experiment_id })).experiment.lifecycle_stage, 'deleted');
    await rejectsWith(ctx.client.Runs.create({ experiment_id, start_time: Date.now() }), 400, 'INVALID_PARAMETER_VALUE');
    await ctx.client.Experiments.restore({ experiment_id });
    assert.equal((await ctx.client.Experiments.get({ experiment_id })).experiment.lifecycle_stage, 'active');
  });

  it('shows experiment tags set over raw HTTP', async () => {
    // (the client's setExperimentTag() builds a broken URL, so raw HTTP sets the tag)
    const { experiment_id } = await ctx.client.Experiments.create({ name: uniqueName('tag') });
    const r = await raw(ctx, 'POST', '/api/2.0/mlflow/experiments/set-experiment-tag',
      { experiment_id, key: 'team', value: 'node' });
    assert.equal(r.status, 200, r.text);
    const { experiment } = await ctx.client.Experiments.get({ experiment_id });
    assert.deepEqual(tagMap(experiment.tags), { team: 'node' });
  });

  it('gets the Default experiment 0', async () => {
    const { experiment } = await ctx.client.Experiments.get({ experiment_id: '0' });
    assert.equal(experiment.name, 'Default');
  });
});
