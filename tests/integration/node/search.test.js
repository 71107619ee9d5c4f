'use strict';
// Runs.search through the npm `mlflow` client: filters, order_by, paging, view types.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setup, uniqueName, rejectsWith } = require('./lib.js');

describe('search (npm mlflow client)', () => {
  const ctx = setup(before, after);
  let eid;
  const ids = {};
  const label = (runs) => (runs || []).map((r) => Object.keys(ids).find((k) => ids[k] === r.info.run_id));

  before(async () => {
    ({ experiment_id: eid } = await ctx.client.Experiments.create({ name: uniqueName('search') }));
    const spec = {
      a: { start: 1000, acc: 0.9, lr: '0.01', team: 'x' },
      b: { start: 2000, acc: 0.4, lr: '0.1', team: 'y' },
      c: { start: 3000, acc: 0.7, lr: '0.001', team: 'x' },
      d: { start: 4000, acc: null, lr: '0.1', team: null },
      gone: { start: 5000, acc: 1.0, lr: '1', team: 'x' },
    };
    for (const [k, s] of Object.entries(spec)) {
      const { run } = await ctx.client.Runs.create({ experiment_id: eid, start_time: s.start });
      ids[k] = run.info.run_id;
      await ctx.client.Runs.logBatch({
        run_id: ids[k],
        metrics: s.acc === null ? [] : [{ key: 'acc', value: s.acc, timestamp: 1, step: 0 }],
        params: [{ key: 'lr', value: s.lr }],
        tags: s.team === null ? [] : [{ key: 'team', value: s.team }],
      });
    }
    await ctx.client.Runs.delete({ run_id: ids.gone });
  });

  const search = async (args) => (await ctx.client.Runs.search({ experiment_ids: [eid], ...args }));

  it('filters on metrics, params, tags and attributes', async () => {
    const f = async (filter) => label((await search({ filter })).runs).sort();
    assert.deepEqual(await f('metrics.acc > 0.5'), ['a', 'c']);
    assert.deepEqual(await f('metrics.acc <= 0.7'), ['b', 'c']);
    assert.deepEqual(await f("params.lr = '0.1'"), ['b', 'd']);
    assert.deepEqual(await f("params.lr LIKE '0.0%'"), ['a', 'c']);
    assert.deepEqual(await f("tags.team = 'x' AND metrics.acc < 0.8"), ['c']);
    assert.deepEqual(await f('attributes.start_time >= 3000'), ['c', 'd']);
    assert.deepEqual(await f(`attributes.run_id IN ('${ids.a}', '${ids.d}')`), ['a', 'd']);
    assert.deepEqual(await f("tags.team = 'nobody'"), []);
  });

  it('orders with missing values last', async () => {
    assert.deepEqual(label((await search({ order_by: ['metrics.acc DESC'] })).runs), ['a', 'c', 'b', 'd']);
    assert.deepEqual(label((await search({ order_by: ['metrics.acc ASC'] })).runs), ['b', 'c', 'a', 'd']);
    assert.deepEqual(label((await search({ order_by: ['params.lr ASC', 'attributes.start_time DESC'] })).runs),
      ['c', 'a', 'd', 'b']);
    assert.deepEqual(label((await search({})).runs), ['d', 'c', 'b', 'a']); // start_time DESC
  });

  it('pages with max_results and page_token', async () => {
    const seen = [];
    let page_token;
    for (let i = 0; i < 10; i++) {
      const res = await search({ max_results: 3, order_by: ['attributes.start_time ASC'], page_token });
      assert.ok((res.runs || []).length <= 3);
      seen.push(...label(res.runs));
      page_token = res.next_page_token;
      if (!page_token) break;
    }
    assert.deepEqual(seen, ['a', 'b', 'c', 'd']);
  });

  it('honours run_view_type', async () => {
    assert.deepEqual(label((await search({ run_view_type: 'DELETED_ONLY' })).runs), ['gone']);
    assert.deepEqual(label((await search({ run_view_type: 'ALL' })).runs).sort(), ['a', 'b', 'c', 'd', 'gone']);
    assert.deepEqual(label((await search({ run_view_type: 'ACTIVE_ONLY' })).runs).sort(), ['a', 'b', 'c', 'd']);
  });

  it('rejects bad filters with INVALID_PARAMETER_VALUE (400)', async () => {
    for (const filter of ["metrics.acc > 'x'", 'params.lr > 1', "attributes.status IN ('X')",
      'metrics.acc > 0 OR metrics.acc < 1', 'foo.bar = 1']) {
      await rejectsWith(search({ filter }), 400, 'INVALID_PARAMETER_VALUE');
    }
    await rejectsWith(search({ order_by: ['metrics.acc SIDEWAYS'] }), 400, 'INVALID_PARAMETER_VALUE');
    await rejectsWith(search({ page_token: 'not-a-token' }), 400, 'INVALID_PARAMETER_VALUE');
  });
});
