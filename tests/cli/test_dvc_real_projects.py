"""Real public DVC projects (from tests/dvc_corpus, with their sources and licences) run end
to end by `cairn repro`, their dvc.yaml files unchanged: first run, a no-op, a param change
(only the stages DVC would rerun run), a revert restored from the run cache, `cairn metrics
show` and `cairn plots show`.

Their scripts need libraries Debian does not have (and their data sits on DVC remotes), so the
steps are tiny stand-ins: `python`/`python3` on the stages' PATH run stub.py, which writes each
out of the stage (files, folders, metrics JSON, plot tables, images) from a digest of the
stage's deps and params, as the real script would write outs that follow its inputs. The data
a .dvc file tracks is "pulled" by writing it before the first run."""

import importlib.util
import json
import os

import pytest
import yaml

from conftest import REPO, run_cli

CORPUS = os.path.join(REPO, "tests", "dvc_corpus")

STUB = r'''
import hashlib, json, os, sys, yaml
root, stage = os.environ["STUB_ROOT"], os.environ["CAIRN_STAGE"]
dag = json.load(open(os.environ["STUB_DAG"]))
st = [s for s in dag["stages"] if s["name"] == stage][0]
h = hashlib.sha256(stage.encode())
def feed(p):
    if os.path.isdir(p):
        for dp, dns, fns in sorted(os.walk(p)):
            dns.sort()
            for f in sorted(fns):
                h.update(open(os.path.join(dp, f), "rb").read())
    elif os.path.exists(p):
        h.update(open(p, "rb").read())
for d in st["deps"]:
    feed(os.path.join(root, d))
for f, k in st["params"]:
    v = yaml.safe_load(open(os.path.join(root, f)))
    for part in (k.split(".") if k else []):
        v = v[part]
    h.update(json.dumps(v, sort_keys=True).encode())
x = int(h.hexdigest()[:8], 16) / 2 ** 32
fields = json.loads(os.environ["STUB_FIELDS"]) or ["value"]
rows = [dict({f: round(x * (i + 1) % 1, 6) for f in fields}, step=i) for i in range(5)]
for r in rows:
    r.update(actual=int(r["step"] % 2), predicted=int(x * 10 + r["step"]) % 2)
def write(path, kind):
    full = os.path.join(root, path)
    ext = os.path.splitext(path)[1]
    os.makedirs(os.path.dirname(full) or ".", exist_ok=True)
    if kind == "metric" or path in metrics:
        json.dump({"score": x, "loss": 1 - x}, open(full, "w"))
    elif ext == ".json":
        json.dump(rows, open(full, "w"))
    elif ext in (".csv", ".tsv"):
        sep = "," if ext == ".csv" else "\t"
        keys = list(rows[0])
        open(full, "w").write(sep.join(keys) + "\n" + "".join(sep.join(str(r[k]) for k in keys) + "\n" for r in rows))
    elif ext == ".png":
        open(full, "wb").write(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                             "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"))
    elif not ext:
        os.makedirs(full, exist_ok=True)
        open(os.path.join(full, "part-0.txt"), "w").write(h.hexdigest() + "\n")
    else:
        open(full, "w").write(h.hexdigest() + "\n")
metrics = set(json.loads(os.environ["STUB_METRICS"]))
for o in st["outputs"]:
    write(o["path"], o["kind"])
for extra in json.loads(os.environ["STUB_EXTRA"]) + sorted(metrics):
    if any(extra.startswith(o["path"] + "/") for o in st["outputs"]):
        write(extra, "metric" if extra in metrics else "plot")
open(os.path.join(root, "ran.log"), "a").write(stage + "\n")
'''


def corpus_runner():
    spec = importlib.util.spec_from_file_location("dvc_corpus_run", os.path.join(CORPUS, "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def top_level(root):
    """Top-level metrics files, plot files and plot fields of every dvc.yaml (repo-relative)."""
    metrics, extra, fields = [], [], set()
    for dp, _, fns in os.walk(root):
        if "dvc.yaml" not in fns or "/." in dp:
            continue
        base = os.path.relpath(dp, root)
        rel = (lambda p: os.path.normpath(os.path.join(base, p)))
        doc = yaml.safe_load(open(os.path.join(dp, "dvc.yaml"))) or {}
        metrics += [rel(m) for m in doc.get("metrics") or []]
        for e in doc.get("plots") or []:
            if isinstance(e, str):
                extra.append(rel(e))
                continue
            (pid, d), = e.items()
            d = d or {}
            for axis in ("x", "y"):
                v = d.get(axis)
                if isinstance(v, dict):
                    for f, fl in v.items():
                        extra.append(rel(f))
                        fields.update([fl] if isinstance(fl, str) else fl)
                elif isinstance(v, str):
                    fields.add(v)
            if not any(isinstance(d.get(a), dict) for a in ("x", "y")):
                extra.append(rel(pid))
        for st in (doc.get("stages") or {}).values():
            for o in (st.get("plots") or []):
                if isinstance(o, dict):
                    (_, opts), = o.items()
                    for a in ("x", "y"):
                        if isinstance((opts or {}).get(a), str):
                            fields.add(opts[a])
    return metrics, extra, sorted(fields)


def cli(cwd, env, *args, ok=True):
    r = run_cli(list(args), cwd=str(cwd), env=env, timeout=300)
    if ok:
        assert r.rc == 0, r
    return r


def ran(root):
    log = root / "ran.log"
    names = log.read_text().split() if log.exists() else []
    if log.exists():
        log.unlink()
    return names


def set_param(path, key, value):
    doc = yaml.safe_load(open(path))
    d = doc
    parts = key.split(".")
    for p in parts[:-1]:
        d = d[p]
    old, d[parts[-1]] = d[parts[-1]], value
    yaml.safe_dump(doc, open(path, "w"), sort_keys=False)
    return old


# (project, params file, key, new value, the stages DVC reruns after that change, those of them
# the run cache restores on the revert: a stage with an uncached out (cache: false) that the
# change rewrote cannot be restored, by DVC either, and runs again)
PROJECTS = [
    ("iterative__example-get-started", "params.yaml", "train.n_est", 80, {"train", "evaluate"},
     {"train", "evaluate"}),
    ("iterative__demo-bank-customer-churn", "params.yaml", "train.params.n_estimators", 90, {"train", "eval"},
     set()),
    ("albakoehler__taed2", "src/params.yaml", "train.EPOCHS", 3,
     {"src/dvc.yaml:train", "src/dvc.yaml:evaluate"}, {"src/dvc.yaml:train"}),
]


@pytest.mark.parametrize("slug,pfile,key,value,rerun,restorable", PROJECTS, ids=[p[0] for p in PROJECTS])
def test_real_project_end_to_end(tmp_path, slug, pfile, key, value, rerun, restorable):
    root = tmp_path / "clone"
    root.mkdir()
    corpus_runner().materialise(os.path.join(CORPUS, "projects", slug), str(root))
    shims = tmp_path / "bin"
    shims.mkdir()
    (tmp_path / "stub.py").write_text(STUB)
    for name in ("python", "python3"):
        (shims / name).write_text(f"#!/bin/sh\nexec /usr/bin/python3 {tmp_path / 'stub.py'}\n")
        (shims / name).chmod(0o755)
    env = dict(os.environ)
    d = json.loads(cli(root, env, "dag", "--json").out)
    (tmp_path / "dag.json").write_text(json.dumps(d))
    metrics, extra, fields = top_level(str(root))
    env.update(PATH=f"{shims}:{env['PATH']}", STUB_ROOT=str(root), STUB_DAG=str(tmp_path / "dag.json"),
               STUB_FIELDS=json.dumps(fields), STUB_EXTRA=json.dumps(extra), STUB_METRICS=json.dumps(metrics))
    stages = [s["name"] for s in d["stages"] if s["kind"] == "stage"]
    # `dvc pull`: the data the pointer files track
    for s in d["stages"]:
        if s["kind"] == "pointer":
            for o in s["outs"]:
                full = root / o
                if os.path.splitext(o)[1]:
                    full.parent.mkdir(parents=True, exist_ok=True)
                    full.write_text(f"pulled {o}\n")
                else:
                    full.mkdir(parents=True, exist_ok=True)
                    (full / "pulled.txt").write_text(f"pulled {o}\n")

    def repro(*args):
        r = cli(root, env, "repro", "-q", "--json", "--no-track", *args)
        return json.loads(r.out)

    rep = repro()
    assert rep["failed"] == 0 and rep["ran"] == len(stages), rep
    assert sorted(ran(root)) == sorted(stages)
    rep = repro()
    assert rep["ran"] == 0 and rep["unchanged"] == len(stages) and ran(root) == []
    st = json.loads(cli(root, env, "status", "--json").out)
    assert all(s["state"] == "ok" for s in st["stages"]), st
    # a param change: the stages that use it and what their new outs feed
    old = set_param(root / pfile, key, value)
    st = {s["name"]: s for s in json.loads(cli(root, env, "status", "--json").out)["stages"]}
    assert {n for n, s in st.items() if s["state"] == "stale"} <= rerun
    rep = repro()
    assert {s["name"] for s in rep["stages"] if s["result"] == "ran"} == rerun, rep
    assert len(ran(root)) == len(rerun)
    # the revert: restored from the run cache where it can be, the rest runs again
    set_param(root / pfile, key, old)
    rep = repro()
    got = {s["name"]: s["result"] for s in rep["stages"]}
    assert {n for n, r in got.items() if r == "restored"} == restorable, rep
    assert {n for n, r in got.items() if r == "ran"} == rerun - restorable, rep
    assert sorted(ran(root)) == sorted(rerun - restorable)
    # metrics and plots as DVC users read them
    m = json.loads(cli(root, env, "metrics", "show", "--json").out)
    flat = m.get("metrics", m)
    assert any(isinstance(v, dict) and v for v in flat.values()), m
    r = cli(root, env, "plots", "show", "-o", str(tmp_path / "plots"))
    html = tmp_path / "plots" / "index.html"
    if extra or any(o["kind"] == "plot" for s in d["stages"] for o in s.get("outputs", [])):
        assert html.exists() and "<svg" in html.read_text()
    else:
        assert "no plots" in (r.out + r.err).lower()
