"""Black-box tests of `cairn repro`, `cairn status`, `cairn dag` on cairn.yaml / dvc.yaml:
what reruns after each kind of change, the run cache, early cutoff, parallel stages,
failures, retries, timeouts, interrupts, and every spec error with its file:line."""

import json
import os
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import SANITIZER, base_env, cairn_bin, run_cli


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@e")
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def write(path, text):
    os.makedirs(os.path.dirname(str(path)) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))


PIPE = """\
stages:
  prepare:
    cmd: echo prepare >> ran.log && head -n ${prepare.n} data/raw.txt > data/prepared.txt
    deps: [data/raw.txt]
    params: [prepare.n]
    outs: [data/prepared.txt]
  train:
    cmd: echo train >> ran.log && cp data/prepared.txt model.txt && echo eta=${train.eta} >> model.txt
    deps: [data/prepared.txt]
    params: [train.eta]
    outs: [model.txt]
  evaluate:
    cmd: "echo evaluate >> ran.log && echo '{\\"lines\\": 1}' > metrics.json && cat model.txt > report.txt"
    deps: [model.txt]
    outs: [report.txt]
    metrics:
      - metrics.json: {cache: false}
"""


@pytest.fixture
def proj(tmp_path):
    p = tmp_path / "proj"
    p.mkdir()
    git(p, "init", "-q", "-b", "main")
    write(p / "data/raw.txt", "".join(f"{i}\n" for i in range(100)))
    write(p / "params.yaml", "prepare:\n  n: 10\ntrain:\n  eta: 0.1\n")
    write(p / "cairn.yaml", PIPE)
    write(p / ".gitignore", "ran.log\n")
    return p


def cli(cwd, *args, ok=True, timeout=120):
    r = run_cli(list(args), cwd=cwd, timeout=timeout)
    if ok:
        assert r.rc == 0, r
    return r


def ran(p):
    """Stages that ran since the last call (from ran.log), then clear it."""
    log = p / "ran.log"
    if not log.exists():
        return []
    names = log.read_text().split()
    log.unlink()
    return names


def repro(p, *args, ok=True):
    r = cli(p, "repro", "-q", "--json", *args, ok=ok)
    return json.loads(r.out) if r.out.strip().startswith("{") else r


def test_first_run_then_noop_and_lock(proj):
    rep = repro(proj)
    assert rep["ran"] == 3 and rep["failed"] == 0
    assert ran(proj) == ["prepare", "train", "evaluate"]
    lock = (proj / "cairn.lock").read_text()
    assert "fingerprint:" in lock and "prepare.n: 10" in lock and "path: data/raw.txt" in lock
    rep = repro(proj)
    assert rep["ran"] == 0 and rep["unchanged"] == 3 and ran(proj) == []
    r = cli(proj, "status")
    assert "all 3 stage(s) up to date" in r.out
    # the lock is stable: a no-op rewrites nothing
    assert (proj / "cairn.lock").read_text() == lock


def test_each_kind_of_change_reruns_the_right_stages(proj):
    repro(proj)
    ran(proj)
    # param value
    write(proj / "params.yaml", "prepare:\n  n: 10\ntrain:\n  eta: 0.2\n")
    st = json.loads(cli(proj, "status", "--json").out)["stages"]
    assert st[1]["state"] == "stale" and any("param changed: train.eta" in w for w in st[1]["reasons"])
    repro(proj)
    assert ran(proj) == ["train", "evaluate"]
    # dep content
    write(proj / "data/raw.txt", "".join(f"{i}\n" for i in range(1, 100)))
    assert any("dep changed: data/raw.txt" in w
               for w in json.loads(cli(proj, "status", "--json").out)["stages"][0]["reasons"])
    repro(proj)
    assert ran(proj) == ["prepare", "train", "evaluate"]
    # touch only: content the same, nothing runs (make would rerun everything)
    os.utime(proj / "data/raw.txt")
    repro(proj)
    assert ran(proj) == []
    # out deleted: restored from the run cache, the command does not run
    (proj / "model.txt").unlink()
    assert any("out missing: model.txt" in w
               for w in json.loads(cli(proj, "status", "--json").out)["stages"][1]["reasons"])
    rep = repro(proj)
    assert ran(proj) == [] and rep["restored"] == 1 and (proj / "model.txt").exists()
    # out modified by hand: restored too (train's outs are all cached)
    before = (proj / "model.txt").read_text()
    (proj / "model.txt").write_text("edited\n")
    rep = repro(proj)
    assert ran(proj) == [] and rep["restored"] == 1 and (proj / "model.txt").read_text() == before
    # an uncached out (metrics.json) is not in the cache: when it is gone the stage runs
    (proj / "report.txt").write_text("edited\n")
    (proj / "metrics.json").unlink()
    repro(proj)
    assert ran(proj) == ["evaluate"]
    # cmd changed
    write(proj / "cairn.yaml", PIPE.replace("> report.txt", "> report.txt && echo v2 >> report.txt"))
    assert any("cmd changed" in w for w in json.loads(cli(proj, "status", "--json").out)["stages"][2]["reasons"])
    repro(proj)
    assert ran(proj) == ["evaluate"]


def test_early_cutoff(proj):
    repro(proj)
    ran(proj)
    # a change after the first 10 lines: prepare reruns, its output is identical,
    # so train and evaluate do not
    write(proj / "data/raw.txt", "".join(f"{i}\n" for i in range(100)) + "extra\n")
    repro(proj)
    assert ran(proj) == ["prepare"]


def test_run_cache_across_branches(proj):
    repro(proj)
    git(proj, "add", "-A")
    git(proj, "commit", "-qm", "v1")
    git(proj, "checkout", "-q", "-b", "exp")
    write(proj / "params.yaml", "prepare:\n  n: 20\ntrain:\n  eta: 0.5\n")
    ran(proj)
    repro(proj)
    assert ran(proj) == ["prepare", "train", "evaluate"]
    git(proj, "commit", "-qam", "exp")
    git(proj, "checkout", "-q", "main")
    rep = repro(proj)
    # main's fingerprints ran before: every out comes back from the cache, nothing runs
    assert ran(proj) == [] and rep["restored"] == 3, rep
    assert len((proj / "model.txt").read_text().splitlines()) == 11
    git(proj, "checkout", "-q", "exp")
    rep = repro(proj)
    assert ran(proj) == [] and rep["restored"] == 3
    assert len((proj / "model.txt").read_text().splitlines()) == 21


def test_force_and_targets(proj):
    repro(proj)
    ran(proj)
    repro(proj, "train", "--force")
    # train forced; evaluate depends on it but train's outs did not change
    assert ran(proj) == ["train"]
    repro(proj, "prepare", "--force", "--single")
    assert ran(proj) == ["prepare"]
    r = cli(proj, "repro", "nope", ok=False)
    assert r.rc == 1 and "no stage named 'nope'" in r.err


def test_parallel_stages_overlap(tmp_path):
    p = tmp_path / "par"
    p.mkdir()
    stages = {f"s{i}": {"cmd": f"date +%s.%N > t{i}.start; sleep 1; date +%s.%N > t{i}.end",
                        "outs": [f"t{i}.end"]} for i in range(2)}
    write(p / "cairn.yaml", json.dumps({"stages": stages}))
    repro(p, "-j", "2")
    s = [float((p / f"t{i}.start").read_text()) for i in range(2)]
    e = [float((p / f"t{i}.end").read_text()) for i in range(2)]
    assert max(s) < min(e), "the two stages did not overlap in time"
    # and with -j 1 they do not
    for i in range(2):
        (p / f"t{i}.end").unlink()
    repro(p, "-j", "1", "--force")
    s = [float((p / f"t{i}.start").read_text()) for i in range(2)]
    e = [float((p / f"t{i}.end").read_text()) for i in range(2)]
    assert max(s) >= min(e), "-j 1 ran two stages at once"


def test_failure_is_isolated(tmp_path):
    p = tmp_path / "fail"
    p.mkdir()
    write(p / "cairn.yaml", """\
        stages:
          bad:
            cmd: echo nope >&2; exit 3
            outs: [bad.txt]
          after_bad:
            cmd: cat bad.txt > x.txt
            deps: [bad.txt]
            outs: [x.txt]
          good:
            cmd: echo ok > good.txt
            outs: [good.txt]
        """)
    r = cli(p, "repro", "-j", "2", ok=False)
    assert r.rc == 1, r
    assert "stage 'bad' failed: exit code 3" in r.out and "[bad] nope" in r.err
    rep = json.loads(cli(p, "repro", "--json", "-q", ok=False).out)
    res = {s["name"]: s["result"] for s in rep["stages"]}
    assert res == {"bad": "failed", "good": "unchanged", "after_bad": "skipped"}
    assert "good:" in (p / "cairn.lock").read_text() and "bad:" not in (p / "cairn.lock").read_text()
    assert (p / ".cairn/tmp/logs/bad.log").read_text() == "nope\n"


def test_missing_out_is_a_failure(tmp_path):
    p = tmp_path / "noout"
    p.mkdir()
    write(p / "cairn.yaml", "stages:\n  a:\n    cmd: 'true'\n    outs: [never.txt]\n")
    r = cli(p, "repro", ok=False)
    assert r.rc == 1 and "did not write its out 'never.txt'" in r.out, r


def test_retries_and_timeout(tmp_path):
    p = tmp_path / "rt"
    p.mkdir()
    write(p / "cairn.yaml", """\
        stages:
          flaky:
            cmd: n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; test $n -ge 1 && echo done > flaky.txt
            outs: [flaky.txt]
            retries: 2
          slow:
            cmd: sleep 30 && echo never > slow.txt
            outs: [slow.txt]
            timeout: 1s
        """)
    t0 = time.monotonic()
    rep = json.loads(cli(p, "repro", "-q", "--json", "-j", "2", ok=False).out)
    assert time.monotonic() - t0 < 20
    res = {s["name"]: s for s in rep["stages"]}
    assert res["flaky"]["result"] == "ran" and res["flaky"]["attempts"] == 2
    assert res["slow"]["result"] == "failed" and "timed out" in res["slow"]["error"]


def test_interrupt_then_resume(tmp_path):
    p = tmp_path / "intr"
    p.mkdir()
    write(p / "cairn.yaml", """\
        stages:
          quick:
            cmd: echo q > q.txt
            outs: [q.txt]
          slow:
            cmd: sleep 30; echo s > s.txt
            deps: [q.txt]
            outs: [s.txt]
        """)
    proc = subprocess.Popen([cairn_bin(), "repro"], cwd=p, env=base_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (p / "cairn.lock").exists() and "quick:" in (p / "cairn.lock").read_text():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, (out, err)
    assert time.monotonic() - t0 < 10
    assert not SANITIZER.search(err), err
    lock = (p / "cairn.lock").read_text()
    assert "quick:" in lock and "slow:" not in lock
    # resume: only the interrupted stage runs
    write(p / "cairn.yaml", (p / "cairn.yaml").read_text().replace("sleep 30; ", ""))
    rep = repro(p)
    assert {s["name"]: s["result"] for s in rep["stages"]} == {"quick": "unchanged", "slow": "ran"}


def test_sigkill_leaves_a_consistent_lock(tmp_path):
    p = tmp_path / "kill"
    p.mkdir()
    write(p / "cairn.yaml", """\
        stages:
          a:
            cmd: echo a > a.txt
            outs: [a.txt]
          b:
            cmd: sleep 30; echo b > b.txt
            deps: [a.txt]
            outs: [b.txt]
        """)
    proc = subprocess.Popen([cairn_bin(), "repro"], cwd=p, env=base_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not ((p / "cairn.lock").exists() and "a:" in (p / "cairn.lock").read_text()):
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    write(p / "cairn.yaml", (p / "cairn.yaml").read_text().replace("sleep 30; ", ""))
    rep = repro(p)
    assert {s["name"]: s["result"] for s in rep["stages"]} == {"a": "unchanged", "b": "ran"}


def test_stage_environment_wdir_and_env(tmp_path):
    p = tmp_path / "env"
    (p / "sub").mkdir(parents=True)
    write(p / "cairn.yaml", """\
        stages:
          show:
            wdir: sub
            cmd: echo "$CAIRN_STAGE $GREETING $(basename $PWD)" > out.txt
            outs: [out.txt]
            env: {GREETING: hello}
        """)
    repro(p)
    assert (p / "sub/out.txt").read_text() == "show hello sub\n"
    assert "path: sub/out.txt" in (p / "cairn.lock").read_text()


def test_foreach_matrix_and_interpolation(tmp_path):
    p = tmp_path / "fe"
    p.mkdir()
    write(p / "params.yaml", "models: [a, b]\nopts: {depth: 3, fast: true}\n")
    write(p / "cairn.yaml", """\
        vars:
          - greeting: hi
        stages:
          build:
            foreach: ${models}
            do:
              cmd: echo ${greeting} ${item} > out-${item}.txt
              outs:
                - out-${item}.txt
          grid:
            matrix:
              lr: [1, 2]
              kind: [x, y]
            cmd: echo ${item.kind}${item.lr} ${opts} > g-${item.kind}-${item.lr}.txt
            outs:
              - g-${item.kind}-${item.lr}.txt
          bykey:
            foreach:
              first: 1
              second: 2
            do:
              cmd: echo ${key}=${item} > k-${key}.txt
              outs:
                - k-${key}.txt
        """)
    r = cli(p, "dag")
    names = [l.split()[0] for l in r.out.splitlines()]
    assert names == ["build@a", "build@b", "grid@1-x", "grid@1-y", "grid@2-x", "grid@2-y", "bykey@first",
                     "bykey@second"], r.out
    repro(p)
    assert (p / "out-b.txt").read_text() == "hi b\n"
    assert (p / "g-y-2.txt").read_text() == "y2 --depth 3 --fast\n"
    assert (p / "k-second.txt").read_text() == "second=2\n"


def test_dvc_yaml_is_read_as_is(tmp_path):
    p = tmp_path / "dvc"
    p.mkdir()
    write(p / "params.yaml", "train:\n  C: 0.5\n")
    write(p / "dvc.yaml", """\
        stages:
          train:
            cmd:
              - echo C=${train.C} > model.txt
              - echo more >> model.txt
            params:
              - train.C
            outs:
              - model.txt:
                  cache: true
                  persist: false
            metrics:
              - metrics.json:
                  cache: false
            frozen: false
            desc: a DVC stage
        """)
    write(p / "metrics.json", "{}")
    r = cli(p, "repro", ok=False)
    # metrics.json is an out the command does not write (it existed before and was removed)
    assert r.rc == 1 and "metrics.json" in r.out
    write(p / "dvc.yaml", (p / "dvc.yaml").read_text().replace("echo more >> model.txt",
                                                               "echo more >> model.txt && echo '{}' > metrics.json"))
    repro(p)
    assert (p / "model.txt").read_text() == "C=0.5\nmore\n"
    assert (p / "cairn.lock").exists()


def test_dag_dot(proj):
    r = cli(proj, "dag", "--dot")
    assert r.out.startswith("digraph pipeline {") and '"prepare" -> "train";' in r.out


@pytest.mark.parametrize("spec,msg", [
    ("stages:\n  a:\n    cmd: [unclosed\n", "cairn.yaml: line"),
    ("stages:\n  a:\n    cmd: x\n    outz: [y]\n", "cairn.yaml:4: stage 'a': unknown key 'outz'"),
    ("stages:\n  a:\n    cmd: x\n    deps: [b.txt]\n    outs: [a.txt]\n"
     "  b:\n    cmd: x\n    deps: [a.txt]\n    outs: [b.txt]\n", "the stages form a cycle: "),
    ("stages:\n  a:\n    cmd: x\n    outs: [o.txt]\n  b:\n    cmd: y\n    outs: [o.txt]\n",
     "cairn.yaml:7: 'o.txt' is an out of both 'a' (line 4) and 'b'"),
    ("stages:\n  a:\n    cmd: x\n    params: [train.nope]\n",
     "cairn.yaml:4: stage 'a': param 'train.nope' is not in params.yaml"),
    ("stages:\n  a:\n    cmd: echo ${undefined.key}\n", "cairn.yaml:3: ${undefined.key}: not defined"),
    ("stages:\n  a:\n    deps: [params.yaml]\n", "cairn.yaml:2: stage 'a' needs a 'cmd'"),
    ("stages:\n  a:\n    cmd: x\n    outs: [../outside]\n", "cairn.yaml:4: '../outside' leads outside the workspace"),
    ("stages:\n  a:\n    cmd: x\n    timeout: soon\n", "cairn.yaml:4: stage 'a': 'timeout' must be"),
    ("stagez: {}\n", "unknown top-level key 'stagez'"),
    ("stages:\n  a:\n    cmd: x\n    outs: [d]\n  b:\n    cmd: y\n    outs: [d/e]\n", "is inside out 'd'"),
])
def test_spec_errors_name_file_and_line(tmp_path, spec, msg):
    p = tmp_path / "bad"
    p.mkdir()
    write(p / "params.yaml", "train:\n  eta: 1\n")
    (p / "cairn.yaml").write_text(spec)
    for cmd in ("status", "repro", "dag"):
        r = cli(p, cmd, ok=False)
        assert r.rc == 1 and msg in r.err, (cmd, r)
    assert not (p / "cairn.lock").exists()


def test_cycle_names_its_stages(tmp_path):
    p = tmp_path / "cyc"
    p.mkdir()
    write(p / "cairn.yaml", """\
        stages:
          a:
            cmd: x
            deps: [c.txt]
            outs: [a.txt]
          b:
            cmd: x
            deps: [a.txt]
            outs: [b.txt]
          c:
            cmd: x
            deps: [b.txt]
            outs: [c.txt]
        """)
    r = cli(p, "dag", ok=False)
    assert r.rc == 1 and "cycle" in r.err
    cyc = r.err.split("cycle: ")[1].strip()
    names = cyc.split(" -> ")
    assert names[0] == names[-1] and sorted(names[:-1]) == ["a", "b", "c"], r.err


def test_no_pipeline(tmp_path):
    r = cli(tmp_path, "repro", ok=False)
    assert r.rc == 1 and "neither cairn.yaml nor dvc.yaml" in r.err


def test_data_gc_keeps_pipeline_outs(proj):
    repro(proj)
    git(proj, "add", "-A")
    git(proj, "commit", "-qm", "v1")
    v1_model = (proj / "model.txt").read_text()
    write(proj / "params.yaml", "prepare:\n  n: 10\ntrain:\n  eta: 0.9\n")
    repro(proj)
    ran(proj)
    cli(proj, "data", "gc", "--all-commits", "-q")
    git(proj, "stash", "-q")  # back to v1's params and lock
    rm_outs = ["model.txt", "report.txt", "data/prepared.txt"]
    for f in rm_outs:
        (proj / f).unlink()
    rep = repro(proj)
    assert ran(proj) == [] and rep["restored"] == 3 and (proj / "model.txt").read_text() == v1_model, rep
    # with only the workspace kept, the other version's outs go
    r = cli(proj, "data", "gc", "--workspace", "--json")
    assert json.loads(r.out)["removed"] >= 1
    assert (proj / "model.txt").read_text() == v1_model


TRACKED = """\
stages:
  prepare:
    cmd: echo a > a.txt
    outs: [a.txt]
  train:
    cmd: >-
      $PY -c "import mlflow; r = mlflow.start_run(); mlflow.log_metric('inner', 1.5);
      open('rid.txt', 'w').write(r.info.run_id + ' ' + __import__('os').environ['CAIRN_STAGE'])"
      && echo '{"acc": 0.93, "nested": {"f1": 0.5}, "name": "x"}' > metrics.json && cp a.txt model.txt
    deps: [a.txt]
    params: [train]
    outs: [model.txt, rid.txt]
    metrics: [metrics.json]
"""


def test_stage_runs_are_tracked(target, uniq, tmp_path):
    if not os.environ.get("PY"):
        pytest.skip("no MLflow client environment (run through tests/cli/run.sh)")
    p = tmp_path / "trk"
    p.mkdir()
    write(p / "params.yaml", "train:\n  eta: 0.1\n  depth: 3\n")
    write(p / "cairn.yaml", TRACKED)
    exp = uniq("pipe")
    r = target.cli("repro", "-e", exp, cwd=str(p), timeout=180)
    assert r.rc == 0, r
    api = target.api
    eid = api.get("experiments/get-by-name", {"experiment_name": exp})["experiment"]["experiment_id"]
    runs = api.post("runs/search", {"experiment_ids": [eid]})["runs"]
    by = {x["info"]["run_name"]: x for x in runs}
    assert set(by) == {"repro", "prepare", "train"}, list(by)
    parent = by["repro"]["info"]["run_id"]
    train = by["train"]
    tags = {t["key"]: t["value"] for t in train["data"]["tags"]}
    assert tags["mlflow.parentRunId"] == parent and tags["cairn.stage"] == "train"
    assert tags["cairn.cached"] == "false" and len(tags["cairn.fingerprint"]) == 64 and tags["cairn.result"] == "ran"
    params = {x["key"]: x["value"] for x in train["data"]["params"]}
    assert params == {"train.eta": "0.1", "train.depth": "3"}
    metrics = {x["key"]: x["value"] for x in train["data"]["metrics"]}
    assert metrics["acc"] == 0.93 and metrics["nested.f1"] == 0.5 and metrics["inner"] == 1.5
    assert train["info"]["status"] == "FINISHED" and by["repro"]["info"]["status"] == "FINISHED"
    # the command's mlflow.start_run() attached to the stage's run
    rid, stage = (p / "rid.txt").read_text().split()
    assert rid == train["info"]["run_id"] and stage == "train"
    ds = {(d["dataset"]["name"], {t["key"]: t["value"] for t in d["tags"]}["mlflow.data.context"])
          for d in train["inputs"]["dataset_inputs"]}
    assert {("a.txt", "input"), ("model.txt", "output"), ("rid.txt", "output")} <= ds
    arts = api.get("artifacts/list", {"run_id": train["info"]["run_id"], "path": "outs"})
    assert {f["path"] for f in arts.get("files", [])} >= {"outs/model.txt", "outs/rid.txt"}
    logs = api.get("artifacts/list", {"run_id": train["info"]["run_id"], "path": "logs"})
    assert [f["path"] for f in logs.get("files", [])] == ["logs/train.log"]
    # the pipeline run holds its DAG (what the web UI draws), as `cairn dag --json` prints it
    art = by["repro"]["info"]["artifact_uri"].split("mlflow-artifacts:/", 1)[-1]
    dag = api.artifact(f"{art}/pipeline/dag.json")
    assert dag.status_code == 200, dag.text
    keys = ("name", "after", "deps", "outs")
    assert [{k: st[k] for k in keys} for st in dag.json()["stages"]] == [
        {"name": "prepare", "after": [], "deps": [], "outs": ["a.txt"]},
        {"name": "train", "after": ["prepare"], "deps": ["a.txt"], "outs": ["model.txt", "rid.txt", "metrics.json"]},
    ]
    printed = json.loads(target.cli("dag", "--json", cwd=str(p)).out)
    assert printed == dag.json()
    # a restored stage is a run too, tagged cached
    (p / "model.txt").unlink()
    r = target.cli("repro", "-e", exp, cwd=str(p))
    assert r.rc == 0 and "restored" in r.out, r
    runs = api.post("runs/search", {"experiment_ids": [eid], "filter": "tags.`cairn.cached` = 'true'"})["runs"]
    assert [x["info"]["run_name"] for x in runs] == ["train"]
    # --no-track records nothing
    (p / "model.txt").unlink()
    r = target.cli("repro", "-e", exp, "--no-track", cwd=str(p))
    assert r.rc == 0 and "runs recorded" not in r.out
    assert len(api.post("runs/search", {"experiment_ids": [eid]})["runs"]) == 5


def test_exp_run_and_metrics_diff(proj, tmp_path):
    write(proj / "params.yaml", "# knobs\nprepare:\n  n: 10   # rows kept\ntrain:\n  eta: 0.1\n")
    write(proj / "cairn.yaml", "stages:\n  evaluate:\n    cmd: >-\n      printf '{\"eta\": %s}\\n' ${train.eta} > metrics.json\n"
          "    params: [train.eta]\n    metrics: [metrics.json]\n")
    repro(proj, "--no-track")
    git(proj, "add", "-A")
    git(proj, "commit", "-qm", "base")
    store = tmp_path / "store"
    r = cli(proj, "exp", "run", "--set-param", "train.eta=0.5", "--name", "eta05", "--root", str(store), "-q")
    assert "experiment eta05 recorded" not in r.out  # -q
    text = (proj / "params.yaml").read_text()
    # only the value changed: comments and layout stay
    assert text == "# knobs\nprepare:\n  n: 10   # rows kept\ntrain:\n  eta: 0.5\n"
    assert json.loads((proj / "metrics.json").read_text()) == {"eta": 0.5}
    r = cli(proj, "runs", "list", "--root", str(store), "-e", "Default", "--json")
    runs = json.loads(r.out)
    runs = runs.get("runs", runs)
    exp_runs = [x for x in runs if {t["key"]: t["value"] for t in x["data"]["tags"]}.get("cairn.exp") == "eta05"]
    assert len(exp_runs) == 1
    tags = {t["key"]: t["value"] for t in exp_runs[0]["data"]["tags"]}
    assert tags["cairn.exp.set.train.eta"] == "0.5"
    r = cli(proj, "metrics", "diff", "--json")
    d = json.loads(r.out)
    assert d["metrics"] == [{"path": "metrics.json", "key": "eta", "old": 0.1, "new": 0.5, "change": 0.4}]
    assert {(x["key"], x["old"], x["new"]) for x in d["params"]} == {("train.eta", "0.1", "0.5")}
    r = cli(proj, "metrics", "diff")
    assert "metrics.json" in r.out and "+0.4" in r.out and "train.eta" in r.out
    r = cli(proj, "metrics", "show")
    assert "eta" in r.out and "0.5" in r.out
    # bad input
    r = cli(proj, "exp", "run", "--set-param", "train.nope=1", "--no-track", ok=False)
    assert r.rc == 1 and "'train.nope' must already be a plain key" in r.err
    r = cli(proj, "exp", "run", "--set-param", "novalue", "--no-track", ok=False)
    assert r.rc == 1 and "KEY=VALUE" in r.err
    r = cli(proj, "metrics", "diff", "no-such-rev", ok=False)
    assert r.rc == 1 and "not a git revision" in r.err
    # a string value stays a string, quoted when YAML would read it otherwise
    cli(proj, "exp", "run", "--set-param", "train.eta=true", "--no-track", "-q", ok=False)
    assert "eta: true" in (proj / "params.yaml").read_text()


def test_server_triggers_run_the_pipeline(tmp_path):
    import requests
    from conftest import free_port
    p = tmp_path / "trig"
    p.mkdir()
    write(p / "data/raw.txt", "v1\n")
    write(p / "cairn.yaml", """\
        triggers:
          - watch: data/raw.txt
          - cron: "0 0 1 1 *"
        stages:
          copy:
            cmd: cp data/raw.txt copy.txt
            deps: [data/raw.txt]
            outs: [copy.txt]
        """)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    err = open(tmp_path / "server.err", "w")
    srv = subprocess.Popen([cairn_bin(), "server", "--port", str(port), "--root", str(tmp_path / "store"),
                            "--pipeline", str(p)], stdout=subprocess.DEVNULL, stderr=err, env=base_env())
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        time.sleep(0.6)  # the runner has seen the watched file once
        write(p / "data/raw.txt", "v2\n")
        runs = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = requests.post(url + "/api/2.0/mlflow/runs/search",
                              json={"experiment_ids": ["0"], "filter": "tags.`cairn.trigger` = 'watch: data/raw.txt'"})
            runs = r.json().get("runs", [])
            if runs and runs[0]["info"]["status"] == "FINISHED":
                break
            time.sleep(0.2)
        assert runs and runs[0]["info"]["status"] == "FINISHED", runs
        assert (p / "copy.txt").read_text() == "v2\n"
        stages = requests.post(url + "/api/2.0/mlflow/runs/search",
                               json={"experiment_ids": ["0"], "filter": "tags.`cairn.stage` = 'copy'"}).json()["runs"]
        assert stages and {t["key"]: t["value"] for t in stages[0]["data"]["tags"]}["mlflow.parentRunId"] == \
            runs[0]["info"]["run_id"]
        assert "== trigger watch: data/raw.txt" in (p / ".cairn/tmp/logs/triggers.log").read_text()
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=20)
        err.close()
    text = (tmp_path / "server.err").read_text()
    assert srv.returncode == 0 and not SANITIZER.search(text), text


def test_server_refuses_a_broken_pipeline(tmp_path):
    p = tmp_path / "broken"
    p.mkdir()
    write(p / "cairn.yaml", "triggers:\n  - cron: '61 * * * *'\nstages:\n  a:\n    cmd: 'true'\n")
    r = run_cli(["server", "--port", "0", "--root", str(tmp_path / "s"), "--pipeline", str(p)], timeout=30)
    assert r.rc == 1 and "cairn.yaml:2" in r.err and "bad minute field" in r.err, r
