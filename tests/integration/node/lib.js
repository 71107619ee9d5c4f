'use strict';
// Shared helpers for the npm `mlflow` client suite (node:test + node:assert only).
//
// Server under test: env TRACKING_URI when set (used as is; cairnOnly tests are skipped,
// unless RUN_CAIRN_ONLY=1), otherwise `${CAIRN_BIN:-build/cairn} server --host 127.0.0.1
// --port <free> --root <fresh tmp dir>` started once per test file, polled on /health (20 s),
// and stopped at the end; the file fails if that server died, exited non-zero, or printed a
// sanitizer report.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const MLflow = require('mlflow');

// The npm client console.log()s every POST body; keep the test output readable.
if (!process.env.MLFLOW_NODE_VERBOSE) {
  const log = console.log;
  console.log = (...args) => {
    if (args.length === 1 && typeof args[0] === 'string' && /^[{\[]/.test(args[0])) return;
    log(...args);
  };
}

const REPO = path.resolve(__dirname, '..', '..', '..');
const EXTERNAL = Boolean(process.env.TRACKING_URI);
const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ThreadSanitizer|UndefinedBehaviorSanitizer/;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Server {
  async start() {
    let bin = process.env.CAIRN_BIN || 'build/cairn';
    if (!path.isAbsolute(bin)) bin = path.join(REPO, bin);
    try {
      fs.accessSync(bin, fs.constants.X_OK);
    } catch {
      throw new Error(`cairn binary ${bin} not found or not executable (build it, or set CAIRN_BIN or TRACKING_URI)`);
    }
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-node-it-'));
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.stderrPath = path.join(this.tmp, 'server.stderr');
    const err = fs.openSync(this.stderrPath, 'w');
    const out = fs.openSync(path.join(this.tmp, 'server.stdout'), 'w');
    this.args = ['server', '--host', '127.0.0.1', '--port', String(this.port), '--root', path.join(this.tmp, 'root')];
    this.proc = spawn(bin, this.args, { stdio: ['ignore', out, err], cwd: this.tmp });
    this.exit = null;
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      this.exit = { code, signal };
      resolve(this.exit);
    }));
    fs.closeSync(err);
    fs.closeSync(out);
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      if (this.exit) throw new Error(`cairn server exited during start-up (${JSON.stringify(this.exit)})\n${this.tail()}`);
      if ((await httpStatus(`${this.url}/health`)) === 200) return this.url;
      await sleep(100);
    }
    await this.stop();
    throw new Error(`cairn server not healthy after 20 s\n${this.tail()}`);
  }

  tail(n = 60) {
    try {
      return fs.readFileSync(this.stderrPath, 'utf8').split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  }

  async stop() {
    const problems = [];
    if (this.exit) {
      problems.push(`cairn server died during the tests (${JSON.stringify(this.exit)})`);
    } else {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => { problems.push('no exit 15 s after SIGTERM (killed)'); this.proc.kill('SIGKILL'); }, 15000);
      await this.exited;
      clearTimeout(t);
      const { code, signal } = this.exit;
      if (!(code === 0 || signal === 'SIGTERM')) problems.push(`cairn server exit ${JSON.stringify(this.exit)} after SIGTERM`);
    }
    if (SANITIZER.test(this.tail(100000))) problems.push('sanitizer report in the server stderr');
    if (problems.length) throw new Error(`${problems.join('; ')}\n--- ${this.stderrPath} ---\n${this.tail(120)}`);
    fs.rmSync(this.tmp, { recursive: true, force: true }); // kept for post-mortems otherwise
  }
}

// setup(): call once at the top of a test file (inside describe) with before/after.
function setup(before, after) {
  const ctx = { url: null, client: null, server: null };
  before(async () => {
    if (EXTERNAL) {
      ctx.url = process.env.TRACKING_URI.replace(/\/+$/, '');
    } else {
      ctx.server = new Server();
      ctx.url = await ctx.server.start();
    }
    ctx.client = new MLflow({ endpoint: ctx.url });
  });
  after(async () => {
    if (ctx.server) await ctx.server.stop();
  });
  return ctx;
}

// cairnOnly: what cairn must do where real MLflow differs; skipped against TRACKING_URI.
const cairnOnlySkip = EXTERNAL && process.env.RUN_CAIRN_ONLY !== '1'
  ? 'cairn_only: not MLflow behaviour (TRACKING_URI is set)' : false;

function uniqueName(label) {
  return `it-node-${label}-${crypto.randomBytes(4).toString('hex')}`;
}

// The client rejects with Error("Error: {status, statusText, data}").
function parseClientError(err) {
  const m = String(err && err.message).replace(/^(Error: )+/, '');
  return JSON.parse(m);
}

async function rejectsWith(promise, status, errorCode) {
  let info = null;
  await assert.rejects(promise, (err) => {
    info = parseClientError(err);
    return true;
  });
  assert.equal(info.status, status, JSON.stringify(info));
  if (errorCode) {
    assert.ok(info.data, `no JSON error body: ${JSON.stringify(info)}`);
    assert.equal(info.data.error_code, errorCode, JSON.stringify(info));
    assert.equal(typeof info.data.message, 'string');
  }
  return info;
}

// Raw HTTP for what the npm client cannot do (artifact upload, experiment tags).
async function raw(ctx, method, urlPath, body, headers = {}) {
  const opts = { method, headers: { ...headers } };
  if (body !== undefined) {
    if (Buffer.isBuffer(body) || typeof body === 'string') {
      opts.body = body;
    } else {
      opts.body = JSON.stringify(body);
      opts.headers['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(ctx.url + urlPath, opts);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

const tagMap = (tags) => Object.fromEntries((tags || []).map((t) => [t.key, t.value]));

module.exports = { setup, cairnOnlySkip, uniqueName, rejectsWith, parseClientError, raw, tagMap, EXTERNAL };
