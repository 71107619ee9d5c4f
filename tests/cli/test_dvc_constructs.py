"""dvc.yaml as people write it: several files in subfolders, DVC's interpolation
(keys, spaces, dict unpacking, matrix and foreach names, stage vars), pointer
files as DAG nodes, a fresh clone before the data is pulled, dvc status's
semantics, a committed dvc.lock adopted, external deps. Each expectation is
DVC 3's documented (or, where the docs are silent, coded) behaviour."""

import hashlib
import json
import os

import pytest

from test_pipeline import cli, git, ran, repro, write


@pytest.fixture
def ws(tmp_path):
    p = tmp_path / "ws"
    p.mkdir()
    git(p, "init", "-q", "-b", "main")
    write(p / ".gitignore", "ran.log\n")
    return p


def dag(p, *args):
    return {s["name"]: s for s in json.loads(cli(p, "dag", "--json", *args).out)["stages"]}


def status(p):
    return {s["name"]: s for s in json.loads(cli(p, "status", "--json").out)["stages"]}


def test_nested_files_paths_relative_to_each_file_and_edges_across(ws):
    write(ws / "params.yaml", "seed: 7\n")
    write(ws / "src/prep.py", "print(1)\n")
    write(ws / "dvc.yaml", """\
        stages:
          prepare:
            cmd: echo prepare >> ran.log && mkdir -p data && echo ${seed} > data/clean.txt
            deps: [src/prep.py]
            params: [seed]
            outs: [data/clean.txt]
        """)
    # the folder's own file: paths relative to it, leaving it with ../, vars from the parent
    write(ws / "models/dvc.yaml", """\
        vars:
          - ../params.yaml
        stages:
          train:
            cmd: echo train >> ../ran.log && cat ../data/clean.txt > model.txt
            deps: [../data/clean.txt, ../src/prep.py]
            outs: [model.txt]
          report:
            wdir: ..
            cmd: echo report >> ran.log && cp models/model.txt report-${seed}.txt
            deps: [models/model.txt]
            outs: [report-7.txt]
        """)
    d = dag(ws)
    assert set(d) == {"prepare", "models/dvc.yaml:train", "models/dvc.yaml:report"}
    t = d["models/dvc.yaml:train"]
    assert t["deps"] == ["data/clean.txt", "src/prep.py"] and t["outs"] == ["models/model.txt"]
    assert t["after"] == ["prepare"] and t["wdir"] == "models" and t["file"] == "models/dvc.yaml"
    assert d["models/dvc.yaml:report"]["after"] == ["models/dvc.yaml:train"]
    assert d["models/dvc.yaml:report"]["wdir"] == "" and d["models/dvc.yaml:report"]["outs"] == ["report-7.txt"]
    # a target by address runs it and what it needs
    rep = repro(ws, "models/dvc.yaml:train")
    assert ran(ws) == ["prepare", "train"] and rep["ran"] == 2
    assert (ws / "models/model.txt").read_text() == "7\n"
    # a file as target: all its stages; then nothing to do
    repro(ws, "models/dvc.yaml")
    assert ran(ws) == ["report"] and (ws / "report-7.txt").exists()
    assert repro(ws)["ran"] == 0 and ran(ws) == []
    # a bare name unique in the workspace works too
    repro(ws, "--force", "--single", "report")
    assert ran(ws) == ["report"]
    # the lock and the logs hold the addresses
    assert "models/dvc.yaml:train:" in (ws / "cairn.lock").read_text()
    assert (ws / ".cairn/tmp/logs/models__dvc.yaml--train.log").exists()
    r = cli(ws, "repro", "nope", ok=False)
    assert "no stage named 'nope'" in r.err


def test_a_path_leaving_the_workspace_is_refused(ws):
    write(ws / "sub/dvc.yaml", "stages:\n  a:\n    cmd: x\n    deps: [../../outside.txt]\n")
    r = cli(ws, "dag", ok=False)
    assert "sub/dvc.yaml:4: '../../outside.txt' leads outside the workspace" in r.err


def test_interpolation_as_dvc_does_it(ws):
    write(ws / "params.yaml", """\
        dir: results
        lr: 0.0001
        big: 100.0
        none: null
        opts:
          depth: 3
          fast: true
          slow: false
          name: two words
          tags: [a, "b c"]
          empty: []
          nested: {k: 0.5}
        """)
    write(ws / "dvc.yaml", """\
        stages:
          unpack:
            cmd: echo ${opts} > unpack.txt
            outs:
              - ${dir}/out.txt: {persist: true}
            metrics:
              - ${ dir }/metrics.json: {cache: false}
          fmt:
            cmd: echo ${lr} ${big} ${none} ${ opts.tags[1] } > fmt.txt
            outs: [fmt.txt]
        """)
    d = dag(ws)
    assert d["unpack"]["cmd"] == ("echo --depth 3 --fast --name 'two words' --tags a 'b c' --nested.k 0.5"
                                  " > unpack.txt")
    assert d["unpack"]["outputs"] == [
        {"path": "results/out.txt", "kind": "out", "cache": True},
        {"path": "results/metrics.json", "kind": "metric", "cache": False},
    ]
    # Python's str(): 0.0001, 100.0, None
    assert d["fmt"]["cmd"] == "echo 0.0001 100.0 None b c > fmt.txt"


def test_foreach_matrix_names_stage_vars_and_extras(ws):
    write(ws / "params.yaml", "models: [xgb, lin]\n")
    write(ws / "extra.yaml", "depth: 9\n")
    write(ws / "dvc.yaml", """\
        stages:
          fit:
            foreach: ${models}
            do:
              cmd: echo ${item}
          dup:
            foreach: [a, b, a]
            do:
              cmd: echo ${item}
          path:
            foreach: [data/raw, data/new]
            do:
              cmd: echo ${item}
          mx:
            matrix:
              data: [{name: a}, {name: b}]
              lr: [0.1, true]
            cmd: echo ${item.data.name} ${item.lr}
          staged:
            vars:
              - extra.yaml
              - local: 4
            cmd: echo ${depth} ${local}
            outs:
              - ckpt: {checkpoint: true}
        """)
    d = dag(ws)
    assert {"fit@xgb", "fit@lin", "dup@a", "dup@b", "path@data/raw", "path@data/new"} <= set(d)
    assert len([n for n in d if n.startswith("dup@")]) == 2
    assert {"mx@data0-0.1", "mx@data0-true", "mx@data1-0.1", "mx@data1-true"} <= set(d)
    assert d["mx@data1-true"]["cmd"] == "echo b true"
    assert d["staged"]["cmd"] == "echo 9 4"
    # the stage-level vars do not leak into other stages
    write(ws / "other/dvc.yaml", "stages:\n  o:\n    cmd: echo ${local}\n")
    r = cli(ws, "dag", ok=False)
    assert "other/dvc.yaml" in r.err and "${local}" in r.err


def test_a_file_without_stages_is_read(ws):
    # dvclive writes this beside a training script
    write(ws / "dvclive/dvc.yaml", "metrics:\n- metrics.json\nplots:\n- plots/metrics:\n    x: step\n")
    write(ws / "dvclive/metrics.json", '{"acc": 0.5}\n')
    write(ws / "dvc.yaml", "stages:\n  a:\n    cmd: echo a\n")
    assert set(dag(ws)) == {"a"}
    r = cli(ws, "metrics", "show", "--json")
    assert json.loads(r.out)["dvclive/metrics.json"] == {"acc": 0.5}


def test_fresh_clone_before_pull(ws):
    # data/raw.csv is tracked by a pointer file and not pulled yet
    write(ws / "data/raw.csv.dvc", "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 10\n  path: raw.csv\n")
    write(ws / "src/prep.py", "")
    write(ws / "dvc.yaml", """\
        stages:
          prepare:
            cmd: echo prepare >> ran.log && cp data/raw.csv prepared.csv
            deps: [data/raw.csv, src/prep.py]
            outs: [prepared.csv]
          train:
            cmd: echo train >> ran.log && cp prepared.csv model.bin
            deps: [prepared.csv]
            outs: [model.bin]
        """)
    d = dag(ws)
    assert d["data/raw.csv.dvc"]["kind"] == "pointer" and d["data/raw.csv.dvc"]["outs"] == ["data/raw.csv"]
    assert d["prepare"]["after"] == ["data/raw.csv.dvc"] and d["train"]["after"] == ["prepare"]
    assert "data/raw.csv.dvc" in cli(ws, "dag").out
    st = status(ws)
    assert "dep missing: data/raw.csv (tracked by data/raw.csv.dvc: pull it)" in st["prepare"]["reasons"]
    assert "dep missing: prepared.csv (an out of 'prepare', not made yet)" in st["train"]["reasons"]
    rep = repro(ws, ok=False)
    res = {s["name"]: s for s in rep["stages"]}
    assert res["prepare"]["result"] == "failed" and "tracked by data/raw.csv.dvc: pull it" in res["prepare"]["error"]
    assert res["train"]["result"] == "skipped" and ran(ws) == []
    # once the data is there, it runs
    write(ws / "data/raw.csv", "a,b\n1,2\n")
    assert repro(ws)["ran"] == 2 and ran(ws) == ["prepare", "train"]


def test_status_lists_only_stages_whose_own_inputs_changed(ws):
    write(ws / "in.txt", "1\n")
    write(ws / "dvc.yaml", """\
        stages:
          a:
            cmd: cp in.txt a.txt
            deps: [in.txt]
            outs: [a.txt]
          b:
            cmd: cp a.txt b.txt
            deps: [a.txt]
            outs: [b.txt]
          c:
            cmd: cp b.txt c.txt
            deps: [b.txt]
            outs: [c.txt]
        """)
    repro(ws)
    write(ws / "in.txt", "2\n")
    st = status(ws)
    assert st["a"]["state"] == "stale" and st["a"]["reasons"] == ["dep changed: in.txt"]
    # b and c did not change (yet): not listed, but they say what they wait for
    assert st["b"]["state"] == "ok" and st["b"]["after"] == ["a"]
    assert st["c"]["state"] == "ok" and st["c"]["after"] == ["b"]
    out = cli(ws, "status").out
    assert "a: stale" in out and "b: stale" not in out and "will run after" in out


def md5(b):
    return hashlib.md5(b).hexdigest()


def dir_md5(path):
    files = []
    for root, _, names in os.walk(path):
        for n in names:
            full = os.path.join(root, n)
            files.append({"md5": md5(open(full, "rb").read()), "relpath": os.path.relpath(full, path)})
    files.sort(key=lambda e: e["relpath"])
    return md5(json.dumps(files, sort_keys=True).encode()) + ".dir"


def test_a_committed_dvc_lock_is_adopted(ws):
    write(ws / "params.yaml", "train:\n  lr: 0.5\n")
    write(ws / "in.txt", "x\n")
    write(ws / "sub/feat/a.txt", "a\n")
    write(ws / "sub/feat/b/c.txt", "c\n")
    write(ws / "sub/dvc.yaml", """\
        stages:
          train:
            cmd: echo train >> ../ran.log && cp ../in.txt model.txt
            deps: [../in.txt, feat]
            params: [train.lr]
            outs: [model.txt]
        """)
    write(ws / "sub/params.yaml", "train:\n  lr: 0.5\n")
    write(ws / "sub/model.txt", "x\n")
    # what DVC 3 wrote after running it (paths relative to the stage's wdir)
    lock = {"schema": "2.0", "stages": {"train": {
        "cmd": "echo train >> ../ran.log && cp ../in.txt model.txt",
        "deps": [{"path": "../in.txt", "hash": "md5", "md5": md5(b"x\n"), "size": 2},
                 {"path": "feat", "hash": "md5", "md5": dir_md5(ws / "sub/feat"), "size": 4, "nfiles": 2}],
        "params": {"params.yaml": {"train.lr": 0.5}},
        "outs": [{"path": "model.txt", "hash": "md5", "md5": md5(b"x\n"), "size": 2}]}}}
    write(ws / "sub/dvc.lock", json.dumps(lock))
    assert status(ws)["sub/dvc.yaml:train"]["state"] == "ok"
    rep = repro(ws)
    assert rep["ran"] == 0 and rep["unchanged"] == 1 and ran(ws) == []
    assert rep["stages"][0]["adopted"] == "dvc.lock"
    assert "sub/dvc.yaml:train:" in (ws / "cairn.lock").read_text()
    # from then on it is cairn's: a change reruns it, a revert restores it
    write(ws / "in.txt", "y\n")
    assert repro(ws)["ran"] == 1 and ran(ws) == ["train"]
    write(ws / "in.txt", "x\n")
    rep = repro(ws)
    assert rep["restored"] == 1 and ran(ws) == [] and (ws / "sub/model.txt").read_text() == "x\n"


def test_a_dvc_lock_that_does_not_match_runs_the_stage(ws):
    write(ws / "in.txt", "x\n")
    write(ws / "dvc.yaml", "stages:\n  s:\n    cmd: echo s >> ran.log && cp in.txt o.txt\n    deps: [in.txt]\n"
                           "    outs: [o.txt]\n")
    write(ws / "o.txt", "x\n")
    lock = {"schema": "2.0", "stages": {"s": {"cmd": "echo s >> ran.log && cp in.txt o.txt",
                                              "deps": [{"path": "in.txt", "md5": md5(b"other\n")}],
                                              "outs": [{"path": "o.txt", "md5": md5(b"x\n")}]}}}
    write(ws / "dvc.lock", json.dumps(lock))
    assert status(ws)["s"]["state"] == "stale"
    assert repro(ws)["ran"] == 1 and ran(ws) == ["s"]


def test_external_absolute_dep_is_hashed_never_written(ws, tmp_path):
    ext = tmp_path / "external.txt"
    ext.write_text("1\n")
    write(ws / "dvc.yaml", f"stages:\n  s:\n    cmd: echo s >> ran.log && cat {ext} > o.txt\n"
                           f"    deps: [{ext}]\n    outs: [o.txt]\n")
    assert dag(ws)["s"]["deps"] == [str(ext)]
    repro(ws)
    assert ran(ws) == ["s"] and repro(ws)["ran"] == 0
    ext.write_text("2\n")
    assert status(ws)["s"]["reasons"] == [f"dep changed: {ext}"]
    repro(ws)
    assert ran(ws) == ["s"] and ext.read_text() == "2\n"
    # an absolute out is refused
    write(ws / "dvc.yaml", f"stages:\n  s:\n    cmd: x\n    outs: [{ext}]\n")
    assert "is an absolute path" in cli(ws, "dag", ok=False).err


def test_absent_dep_nothing_makes(ws):
    write(ws / "dvc.yaml", "stages:\n  a:\n    cmd: echo a\n    deps: [nowhere.txt]\n")
    assert "dep missing: nowhere.txt (no stage makes it)" in status(ws)["a"]["reasons"]
    rep = repro(ws, ok=False)
    assert "dep missing: nowhere.txt (no stage makes it)" in rep["stages"][0]["error"]
