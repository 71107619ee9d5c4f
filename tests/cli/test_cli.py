"""Black-box tests of `cairn experiments`, `cairn runs` and `cairn run` (see conftest.py)."""

import json
import os
import pty
import select
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import base_env, cairn_bin, run_cli

PY = os.environ.get("PY", "/usr/bin/python3")


def mlflow_importable():
    try:
        p = subprocess.run([PY, "-c", "import mlflow"], capture_output=True, timeout=120,
                           env=base_env())
        return p.returncode == 0
    except Exception:
        return False


# ---------------------------------------------------------------- help and usage

@pytest.mark.parametrize("cmd", ["experiments", "runs", "run"])
def test_help_is_complete(cmd):
    r = run_cli([cmd, "--help"])
    assert r.rc == 0, r
    for opt in ("--tracking-uri", "--root", "usage:", "examples:"):
        assert opt in r.out, (opt, r)


@pytest.mark.parametrize("argv", [
    ["experiments"], ["experiments", "frobnicate"], ["experiments", "list", "--bogus"],
    ["experiments", "create"], ["experiments", "rename", "x"], ["experiments", "list", "--view", "some"],
    ["runs"], ["runs", "list"], ["runs", "show"], ["runs", "compare", "abcd"], ["runs", "list", "-e", "x",
                                                                               "--max", "zero"],
    ["runs", "show", "abcd", "--filter", "x"], ["run"], ["run", "-e"], ["run", "--what", "--", "true"],
])
def test_usage_errors_exit_2(argv):
    r = run_cli(argv)
    assert r.rc == 2, r
    assert r.err.strip(), r


def test_bad_tracking_uri():
    r = run_cli(["experiments", "list", "--tracking-uri", "ftp://example.com"])
    assert r.rc == 1, r
    assert "unsupported tracking URI" in r.err
    r = run_cli(["experiments", "list", "--tracking-uri", "http://127.0.0.1:1"])
    assert r.rc == 1, r
    assert "cannot reach" in r.err


def test_tracking_uri_from_environment(servers, uniq):
    root, srv = servers["remote"]
    name = uniq("env")
    r = run_cli(["experiments", "create", name], env={"MLFLOW_TRACKING_URI": srv.url},
                )
    assert r.rc == 0, r
    r = run_cli(["experiments", "list", "--json"], env={"MLFLOW_TRACKING_URI": srv.url})
    assert name in [e["name"] for e in json.loads(r.out)["experiments"]]
    # --root wins over the environment
    r = run_cli(["experiments", "list", "--json", "--root", servers["local"][0]],
                env={"MLFLOW_TRACKING_URI": srv.url})
    assert name not in [e["name"] for e in json.loads(r.out)["experiments"]]


# ---------------------------------------------------------------- experiments

def test_experiments_lifecycle(target, uniq):
    name, new = uniq("exp"), uniq("renamed")
    r = target.cli("experiments", "create", name)
    assert r.rc == 0, r
    m = re.search(r"\(id (\d+)\)", r.out)
    assert m, r
    eid = m.group(1)

    r = target.cli("experiments", "list")
    assert r.rc == 0, r
    assert re.search(rf"^{eid}\s+{re.escape(name)}\s", r.out, re.M), r
    r = target.cli("experiments", "list", "--json")
    exps = {e["experiment_id"]: e for e in json.loads(r.out)["experiments"]}
    assert exps[eid]["name"] == name

    r = target.cli("experiments", "create", name)
    assert r.rc == 1, r
    assert "already exists" in r.err, r

    r = target.cli("experiments", "rename", name, new)
    assert r.rc == 0, r
    assert target.api.get("experiments/get", {"experiment_id": eid})["experiment"]["name"] == new

    r = target.cli("experiments", "delete", eid)
    assert r.rc == 0, r
    assert target.api.get("experiments/get", {"experiment_id": eid})["experiment"]["lifecycle_stage"] == "deleted"
    r = target.cli("experiments", "list")
    assert not re.search(rf"^{eid}\s", r.out, re.M), r
    r = target.cli("experiments", "list", "--view", "deleted")
    assert re.search(rf"^{eid}\s+{re.escape(new)}\s+deleted", r.out, re.M), r

    r = target.cli("experiments", "restore", new)
    assert r.rc == 0, r
    assert target.api.get("experiments/get", {"experiment_id": eid})["experiment"]["lifecycle_stage"] == "active"


def test_experiments_create_json_and_tags(target, uniq):
    name = uniq("tagged")
    r = target.cli("experiments", "create", name, "--tag", "team=ml", "--json")
    assert r.rc == 0, r
    eid = json.loads(r.out)["experiment_id"]
    exp = target.api.get("experiments/get", {"experiment_id": eid})["experiment"]
    assert {"key": "team", "value": "ml"} in exp.get("tags", [])


def test_experiments_unknown(target, uniq):
    ghost = uniq("ghost")
    for argv in (["rename", ghost, "x"], ["delete", ghost], ["delete", "987654321"]):
        r = target.cli("experiments", *argv)
        assert r.rc == 1, r
        assert "does not exist" in r.err, r
        assert r.err.startswith("cairn experiments: "), r


# ---------------------------------------------------------------- runs list

@pytest.fixture
def three_runs(target, uniq):
    name = uniq("runs")
    eid = target.api.create_experiment(name)
    t0 = int(time.time() * 1000) - 10000
    ids = {}
    for i, (auc, lr) in enumerate([(0.7, "0.1"), (0.9, "0.2"), (0.8, "0.3")]):
        ids[auc] = target.api.create_run(eid, name=f"r{i}", params={"lr": lr, "depth": 3},
                                         metrics={"auc": auc}, start=t0 + i * 1000)
    return name, eid, ids


def test_runs_list_filter_and_order(target, three_runs):
    name, eid, ids = three_runs
    r = target.cli("runs", "list", "-e", name, "--filter", "metrics.auc > 0.75",
                   "--order", "metrics.auc DESC", "--json")
    assert r.rc == 0, r
    got = [x["info"]["run_id"] for x in json.loads(r.out)["runs"]]
    assert got == [ids[0.9], ids[0.8]]

    r = target.cli("runs", "list", "-e", eid, "--order", "metrics.auc ASC")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    header = lines[0].split()
    for col in ("RUN", "NAME", "STATUS", "STARTED", "DURATION", "auc", "lr", "depth"):
        assert col in header, r
    assert [ln.split()[0] for ln in lines[1:]] == [ids[a][:8] for a in (0.7, 0.8, 0.9)], r
    assert "FINISHED" in lines[1] and "1.5s" in lines[1], r

    r = target.cli("runs", "list", "-e", name, "--filter", "params.lr = '0.2'")
    assert [ln.split()[0] for ln in r.out.splitlines()[1:]] == [ids[0.9][:8]], r


def test_runs_list_max_and_width(target, three_runs):
    name, eid, ids = three_runs
    r = target.cli("runs", "list", "-e", name, "--max", "2", "--json")
    assert len(json.loads(r.out)["runs"]) == 2
    r = target.cli("runs", "list", "-e", name, "--max", "1")
    assert r.rc == 0 and len(r.out.splitlines()) == 2, r
    assert "more runs" in r.err, r
    r = run_cli(["runs", "list", "-e", name] + target.args, env={"COLUMNS": "60"})
    assert r.rc == 0, r
    assert all(len(ln) <= 60 for ln in r.out.splitlines()), r
    assert "not shown" in r.err, r


def test_runs_list_several_experiments_and_views(target, three_runs, uniq):
    name, eid, ids = three_runs
    other = uniq("other")
    oid = target.api.create_experiment(other)
    orid = target.api.create_run(oid, name="o1", metrics={"auc": 0.5})
    r = target.cli("runs", "list", "-e", f"{name},{oid}", "--json")
    got = {x["info"]["run_id"] for x in json.loads(r.out)["runs"]}
    assert got == set(ids.values()) | {orid}
    r = target.cli("runs", "list", "-e", name, "-e", other)
    assert "EXPERIMENT" in r.out.splitlines()[0], r

    target.api.post("runs/delete", {"run_id": ids[0.7]})
    r = target.cli("runs", "list", "-e", name, "--json")
    assert ids[0.7] not in {x["info"]["run_id"] for x in json.loads(r.out)["runs"]}
    r = target.cli("runs", "list", "-e", name, "--view", "deleted", "--json")
    assert [x["info"]["run_id"] for x in json.loads(r.out)["runs"]] == [ids[0.7]]
    r = target.cli("runs", "list", "-e", name, "--view", "all", "--json")
    assert len(json.loads(r.out)["runs"]) == 3


def test_runs_list_bad_input(target, three_runs, uniq):
    name, eid, ids = three_runs
    r = target.cli("runs", "list", "-e", uniq("nope"))
    assert r.rc == 1, r
    assert "does not exist" in r.err, r
    r = target.cli("runs", "list", "-e", name, "--filter", "metrics.auc >> 0.5")
    assert r.rc == 1, r
    assert r.err.startswith("cairn runs: ") and len(r.err.strip()) > len("cairn runs: "), r
    r = target.cli("runs", "list", "-e", name, "--order", "metrics.auc SIDEWAYS")
    assert r.rc == 1, r


def test_runs_list_empty(target, uniq):
    name = uniq("empty")
    target.api.create_experiment(name)
    r = target.cli("runs", "list", "-e", name)
    assert r.rc == 0 and r.out == "" and "no runs" in r.err, r


# ---------------------------------------------------------------- show, compare, delete

def test_runs_show(target, three_runs):
    name, eid, ids = three_runs
    rid = ids[0.9]
    target.api.post("runs/log-inputs", {"run_id": rid, "datasets": [{
        "tags": [{"key": "mlflow.data.context", "value": "train"}],
        "dataset": {"name": "iris", "digest": "abc123", "source_type": "local", "source": "{}"}}]})
    r = target.cli("runs", "show", rid[:8])
    assert r.rc == 0, r
    assert rid in r.out and name in r.out
    for section in ("params", "metrics", "tags", "datasets", "artifacts"):
        assert re.search(rf"^{section}$", r.out, re.M), (section, r)
    assert re.search(r"^\s+auc\s+0\.9$", r.out, re.M), r
    assert re.search(r"^\s+lr\s+0\.2$", r.out, re.M), r
    assert "iris" in r.out and "mlflow.data.context=train" in r.out, r

    r = target.cli("runs", "show", rid, "--json")
    doc = json.loads(r.out)
    assert doc["run"]["info"]["run_id"] == rid
    assert isinstance(doc["artifacts"], list)

    r = target.cli("runs", "show", "0123456789abcdef0123456789abcdef")
    assert r.rc == 1 and "not found" in r.err, r
    r = target.cli("runs", "show", "ab")
    assert r.rc == 1 and "too short" in r.err, r


def test_runs_compare(target, uniq):
    eid = target.api.create_experiment(uniq("cmp"))
    a = target.api.create_run(eid, name="a", params={"lr": "0.1", "depth": 3}, metrics={"auc": 0.8, "loss": 1.0})
    b = target.api.create_run(eid, name="b", params={"lr": "0.1", "depth": 5}, metrics={"auc": 0.9, "loss": 1.0})
    r = target.cli("runs", "compare", a, b[:10])
    assert r.rc == 0, r
    rows = {ln[3:].split()[0]: ln for ln in r.out.splitlines() if len(ln) > 3}
    assert rows["params.depth"].startswith("*"), r
    assert rows["metrics.auc"].startswith("*"), r
    assert not rows["params.lr"].startswith("*"), r
    assert not rows["metrics.loss"].startswith("*"), r
    assert rows["params.depth"].split()[-2:] == ["3", "5"], r

    r = target.cli("runs", "compare", a, b, "--only-diff")
    assert "params.lr" not in r.out and "params.depth" in r.out, r

    r = target.cli("runs", "compare", a, b, "--json")
    doc = json.loads(r.out)
    assert [x["run_id"] for x in doc["runs"]] == [a, b]
    p = {x["key"]: x for x in doc["params"]}
    assert p["depth"]["differs"] is True and p["depth"]["values"] == ["3", "5"]
    assert p["lr"]["differs"] is False
    m = {x["key"]: x for x in doc["metrics"]}
    assert m["auc"]["differs"] is True and m["loss"]["differs"] is False


def test_runs_compare_missing_value_differs(target, uniq):
    eid = target.api.create_experiment(uniq("cmp2"))
    a = target.api.create_run(eid, params={"only_a": "1"})
    b = target.api.create_run(eid, params={})
    r = target.cli("runs", "compare", a, b, "--json")
    p = {x["key"]: x for x in json.loads(r.out)["params"]}
    assert p["only_a"]["values"] == ["1", None] and p["only_a"]["differs"] is True


def test_runs_delete_and_restore(target, uniq):
    eid = target.api.create_experiment(uniq("del"))
    a = target.api.create_run(eid)
    b = target.api.create_run(eid)
    r = target.cli("runs", "delete", a, b[:12])
    assert r.rc == 0, r
    assert target.api.run(a)["info"]["lifecycle_stage"] == "deleted"
    assert target.api.run(b)["info"]["lifecycle_stage"] == "deleted"
    r = target.cli("runs", "restore", a)
    assert r.rc == 0, r
    assert target.api.run(a)["info"]["lifecycle_stage"] == "active"
    r = target.cli("runs", "delete", "0123456789abcdef0123456789abcdef")
    assert r.rc == 1 and "not found" in r.err, r


# ---------------------------------------------------------------- cairn run

def find_run(target, exp_name):
    exp = target.api.get("experiments/get-by-name", {"experiment_name": exp_name})["experiment"]
    runs = target.api.post("runs/search", {"experiment_ids": [exp["experiment_id"]]}).get("runs", [])
    assert len(runs) == 1, runs
    return runs[0]


def tags_of(run):
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def artifact_text(target, run, name):
    uri = run["info"]["artifact_uri"]
    assert uri.startswith("mlflow-artifacts:/"), uri
    r = target.api.artifact(uri[len("mlflow-artifacts:/"):].lstrip("/") + "/" + name)
    assert r.status_code == 200, (name, r.status_code, r.text)
    return r.text


def test_run_shell_child_fails(target, uniq, workdir):
    exp = uniq("run")
    script = ('test -n "$MLFLOW_RUN_ID" || exit 99; test -n "$MLFLOW_TRACKING_URI" || exit 98; '
              'test "$CAIRN_RUN_ID" = "$MLFLOW_RUN_ID" || exit 97; '
              'echo "out:$MLFLOW_RUN_ID"; echo "err-line" >&2; exit 3')
    r = target.cli("run", "-e", exp, "--name", "shell", "--", "sh", "-c", script, cwd=workdir)
    assert r.rc == 3, r
    run = find_run(target, exp)
    rid = run["info"]["run_id"]
    assert f"out:{rid}" in r.out, r          # teed live to our stdout
    assert "err-line" in r.err, r
    assert run["info"]["status"] == "FAILED"
    assert run["info"]["run_name"] == "shell"
    assert int(run["info"]["end_time"]) >= int(run["info"]["start_time"]) > 0
    assert run["info"]["experiment_id"] == target.api.get(
        "experiments/get-by-name", {"experiment_name": exp})["experiment"]["experiment_id"]
    tags = tags_of(run)
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"] == "sh"
    assert tags["mlflow.user"]
    assert tags["cairn.command"].startswith("sh -c 'test -n")
    assert "mlflow.source.git.commit" not in tags      # workdir is not a git tree
    assert artifact_text(target, run, "stdout.txt") == f"out:{rid}\n"
    assert artifact_text(target, run, "stderr.txt") == "err-line\n"


def test_run_success_env_and_experiment_id(target, uniq, workdir):
    exp = uniq("ok")
    eid = target.api.create_experiment(exp)
    r = target.cli("run", "-e", eid, "-q", "--tag", "k=v", "--", "sh", "-c",
                   'echo "$MLFLOW_EXPERIMENT_ID $MLFLOW_TRACKING_URI"', cwd=workdir)
    assert r.rc == 0, r
    got_eid, uri = r.out.split()
    assert got_eid == eid and uri.startswith("http://")
    if target.mode == "remote":
        assert uri == target.uri
    assert r.err == "", r                                 # -q
    run = find_run(target, exp)
    assert run["info"]["status"] == "FINISHED"
    assert tags_of(run)["k"] == "v"


def test_run_records_git_state(target, uniq, workdir):
    genv = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@e", "HOME": workdir}
    env = dict(base_env(), **genv)

    def git(*a):
        return subprocess.run(["git", *a], cwd=workdir, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q", "-b", "trunk")
    with open(os.path.join(workdir, "f.txt"), "w") as f:
        f.write("one\n")
    git("add", "f.txt")
    git("commit", "-q", "-m", "c1")
    git("remote", "add", "origin", "https://example.com/repo.git")
    head = git("rev-parse", "HEAD")

    exp = uniq("git")
    r = target.cli("run", "-e", exp, "--", "true", cwd=workdir, env=genv)
    assert r.rc == 0, r
    tags = tags_of(find_run(target, exp))
    assert tags["mlflow.source.git.commit"] == head
    assert tags["mlflow.source.git.branch"] == "trunk"
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/repo.git"
    assert tags["cairn.git.dirty"] == "false"

    with open(os.path.join(workdir, "f.txt"), "a") as f:
        f.write("two\n")
    exp2 = uniq("git")
    r = target.cli("run", "-e", exp2, "--", "true", cwd=workdir, env=genv)
    assert tags_of(find_run(target, exp2))["cairn.git.dirty"] == "true"


def test_run_command_not_found(target, uniq, workdir):
    exp = uniq("nf")
    r = target.cli("run", "-e", exp, "--", "/nonexistent/program", cwd=workdir)
    assert r.rc == 127, r
    assert "not found" in r.err and "/nonexistent/program" in r.err, r
    assert find_run(target, exp)["info"]["status"] == "FAILED"


def test_run_numeric_name_creates_experiment(target, workdir):
    # an all-digit -e that is no experiment id creates an experiment of that name
    name = str(900000000 + int(time.time() * 1000) % 99999999)
    r = target.cli("run", "-e", name, "--", "true", cwd=workdir)
    assert r.rc == 0, r
    assert f"created experiment '{name}'" in r.err, r
    assert find_run(target, name)["info"]["status"] == "FINISHED"


def _start_run_bg(target, exp, script, workdir):
    argv = [cairn_bin(), "run"] + target.args + ["-e", exp, "--", "sh", "-c", script]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=base_env(), cwd=workdir, stdin=subprocess.DEVNULL)
    line = p.stdout.readline()          # the child is up once it printed
    assert line.strip() == "ready", (line, p.stderr.read() if p.poll() is not None else "")
    return p


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_forwards_signal_killed(target, uniq, workdir, sig):
    exp = uniq("sig")
    p = _start_run_bg(target, exp, "echo ready; sleep 60; echo never", workdir)
    time.sleep(0.3)
    t0 = time.monotonic()
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert time.monotonic() - t0 < 10
    assert p.returncode == 128 + sig, (p.returncode, err)
    assert "never" not in out
    assert "SANITIZER" not in err.upper() or "runtime error" not in err
    run = find_run(target, exp)
    assert run["info"]["status"] == "KILLED"
    assert artifact_text(target, run, "stdout.txt") == "ready\n"


def _children(pid):
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += [int(k) for k in f.read().split()]
    return kids


def _state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_run_forwarded_signal_reaches_a_stopped_command(target, uniq, workdir):
    """A stopped command (kill -STOP) stays paused, but a forwarded signal continues it, so
    SIGTERM to cairn still ends the run instead of waiting forever."""
    exp = uniq("stop")
    p = _start_run_bg(target, exp, "echo ready; kill -STOP $$; echo resumed; sleep 60", workdir)
    try:
        deadline = time.monotonic() + 20
        while not any(_state(k) == "T" for k in _children(p.pid)):
            assert time.monotonic() < deadline, "the command did not stop"
            time.sleep(0.05)
        time.sleep(0.3)
        assert p.poll() is None  # cairn waits for the paused command
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 128 + signal.SIGTERM, (p.returncode, err)
    assert "resumed" not in out
    assert find_run(target, exp)["info"]["status"] == "KILLED"


def test_run_forwards_sigint_to_group(target, uniq, workdir):
    # the shell traps SIGINT and reports it; its background child gets it too (process group)
    exp = uniq("trap")
    p = _start_run_bg(target, exp, 'trap "echo got-int; exit 7" INT; echo ready; sleep 60 & wait', workdir)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 7, (p.returncode, err)
    assert "got-int" in out
    run = find_run(target, exp)
    assert run["info"]["status"] == "FAILED"
    assert "got-int" in artifact_text(target, run, "stdout.txt")


@pytest.mark.skipif(not mlflow_importable(), reason="MLflow client not importable (source mlflow_env.sh)")
def test_run_mlflow_child(target, uniq, workdir):
    exp = uniq("mlflow")
    script = os.path.join(workdir, "train.py")
    with open(script, "w") as f:
        f.write(
            "import os, mlflow\n"
            "rid = os.environ['MLFLOW_RUN_ID']\n"
            "with mlflow.start_run() as run:\n"
            "    assert run.info.run_id == rid, (run.info.run_id, rid)\n"
            "    mlflow.log_param('alpha', '0.5')\n"
            "    mlflow.log_metric('rmse', 0.25, step=2)\n"
            "    mlflow.log_text('model text', 'model/notes.txt')\n"
            "    print('trained', rid)\n")
    r = target.cli("run", "-e", exp, "--", PY, script, cwd=workdir, timeout=180)
    assert r.rc == 0, r
    run = find_run(target, exp)
    rid = run["info"]["run_id"]
    assert f"trained {rid}" in r.out
    assert run["info"]["status"] == "FINISHED"
    assert {"key": "alpha", "value": "0.5"} in run["data"]["params"]
    assert any(m["key"] == "rmse" and m["value"] == 0.25 for m in run["data"]["metrics"])
    assert tags_of(run)["mlflow.source.name"] == script
    assert artifact_text(target, run, "model/notes.txt") == "model text"
    assert f"trained {rid}" in artifact_text(target, run, "stdout.txt")
    # and the CLI shows what the child logged
    r = target.cli("runs", "show", rid[:8])
    assert re.search(r"^\s+rmse\s+0\.25\s+\(step 2\)$", r.out, re.M), r
    assert "model/notes.txt" in r.out and "stdout.txt" in r.out, r


def _kill_session(sid):
    """SIGKILL every process of session sid (a pty child and whatever it started)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.getsid(int(name)) == sid:
                    os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass


def _pty_run(argv, steps, env, cwd, timeout=60, repeat=None):
    """Run argv as the session leader of a new pseudo-terminal. steps: [(marker, bytes)]: once
    marker has appeared in the output (after the previous one), type bytes; with repeat, type the
    last step's bytes again every repeat seconds until the process exits. Returns (exit code,
    output). Never hangs: past timeout seconds, or when the process stops (nobody in its
    orphaned session could continue it), every process of the session is killed and the test
    fails."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    deadline = time.monotonic() + timeout
    out = b""
    st = None
    eof = False

    def poll(seconds):
        """Read what comes within seconds and check on the process."""
        nonlocal out, st, eof
        if not eof:
            r, _, _ = select.select([fd], [], [], seconds)
            if r:
                try:
                    d = os.read(fd, 4096)
                except OSError:  # EIO: every slave fd is closed
                    d = b""
                out += d
                eof = not d
        else:
            time.sleep(seconds)
        if st is None:
            p, s = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
            if p and os.WIFSTOPPED(s):
                fail(f"{os.path.basename(argv[0])} stopped (signal {os.WSTOPSIG(s)}) and would hang")
            if p:
                st = s

    def cleanup():
        """Kill what is left of the session (leftovers, or all of it on failure); reap; close."""
        nonlocal st, fd
        if fd < 0:
            return
        _kill_session(pid)
        if st is None:
            _, st = os.waitpid(pid, 0)
        os.close(fd)
        fd = -1

    def fail(why):
        cleanup()
        pytest.fail(f"{why}; output so far:\n{out.decode('utf-8', 'replace')}", pytrace=False)

    try:
        pos = 0
        for marker, data in steps:
            while (i := out.find(marker, pos)) < 0:
                if st is not None or eof:
                    fail(f"exited before {marker!r} appeared")
                if time.monotonic() > deadline:
                    fail(f"{marker!r} did not appear within {timeout} s")
                poll(0.05)
            pos = i + len(marker)
            os.write(fd, data)
        again = time.monotonic() + repeat if repeat else None
        while st is None or not eof:
            if time.monotonic() > deadline:
                fail(f"still running after {timeout} s")
            if again and st is None and not eof and time.monotonic() > again:
                os.write(fd, steps[-1][1])
                again = time.monotonic() + repeat
            poll(0.05)
    finally:
        cleanup()  # also when interrupted: leave nothing behind
    return os.waitstatus_to_exitcode(st), out.decode("utf-8", "replace")


def test_run_on_a_terminal(target, uniq, workdir):
    """With a terminal, the command gets it: it can read input, and Ctrl-C reaches it."""
    env = base_env()
    exp = uniq("tty")
    # it reads at once: the terminal must be its group's before it starts (no SIGTTIN)
    argv = [cairn_bin(), "run"] + target.args + ["-e", exp, "--", "sh", "-c",
                                                  "echo ready; read x; echo got=$x"]
    rc, out = _pty_run(argv, [(b"ready", b"hello\n")], env, workdir)
    assert rc == 0 and "got=hello" in out, (rc, out)
    assert "got=hello" in artifact_text(target, find_run(target, exp), "stdout.txt")

    exp = uniq("tty")
    argv = [cairn_bin(), "run"] + target.args + ["-e", exp, "--", "sh", "-c", "echo ready; sleep 60"]
    # sh -c exits on SIGINT only when its child died of it too; a ^C while it forks sleep is
    # lost in the fork (the copy still has sh's handler), hence ^C again until it ends
    rc, out = _pty_run(argv, [(b"ready", b"\x03")], env, workdir, repeat=1)
    assert rc == 130, (rc, out)
    assert find_run(target, exp)["info"]["status"] == "KILLED"


def test_run_on_a_terminal_ctrl_z_without_job_control(target, uniq, workdir):
    """Ctrl-Z where no shell could continue cairn (it leads the session): the command stops,
    cairn does not stop with it (it would hang for good) but resumes it with the terminal."""
    exp = uniq("tty")
    argv = [cairn_bin(), "run"] + target.args + ["-e", exp, "--", "sh", "-c",
                                                  "echo ready; read x; echo got=$x"]
    rc, out = _pty_run(argv, [(b"ready", b"\x1a"), (b"", b"hello\n")], env=base_env(), cwd=workdir)
    assert rc == 0 and "got=hello" in out, (rc, out)
    assert find_run(target, exp)["info"]["status"] == "FINISHED"


def test_run_on_a_terminal_under_job_control(target, uniq, workdir):
    """Under a job-control shell Ctrl-Z stops the job (cairn and the command) and fg resumes it
    with the terminal; started in the background, a command that reads the terminal stops the
    job until fg."""
    cmd = " ".join(["'%s'" % a for a in [cairn_bin(), "run"] + target.args])
    exp1, exp2 = uniq("tty"), uniq("tty")
    script = (f"set -m; {cmd} -e {exp1} -- sh -c 'echo ready; read x; echo got=$x'; echo stopped=$?; "
              f"fg; echo rc=$?; "
              f"{cmd} -e {exp2} -- sh -c 'echo bgready; read x; echo bggot=$x' & "
              f"while ! jobs -s | grep -q .; do sleep 0.05; done; echo bgstopped; fg; echo bgrc=$?")
    argv = ["/bin/bash", "--norc", "--noprofile", "-c", script]
    rc, out = _pty_run(argv, [(b"ready", b"\x1a"), (b"stopped=148", b""), (b"\n", b"hello\n"),
                              (b"bgstopped", b""), (b"\n", b"world\n")],
                       env=base_env(), cwd=workdir)
    assert rc == 0, (rc, out)
    assert "got=hello" in out and "rc=0" in out, out
    assert "bggot=world" in out and "bgrc=0" in out, out
    assert find_run(target, exp1)["info"]["status"] == "FINISHED"
    assert find_run(target, exp2)["info"]["status"] == "FINISHED"


def test_run_on_a_terminal_orphaned_in_the_background(target, uniq, workdir):
    """cairn in a background group that nothing can continue (its parent has left the session):
    a command that reads the terminal cannot ever have it, so it is hung up (as the kernel does
    to an orphaned stopped group) rather than left stopped with cairn waiting forever."""
    cmd = " ".join(["'%s'" % a for a in [cairn_bin(), "run"] + target.args])
    exp = uniq("tty")
    pidfile = os.path.join(workdir, "cairn.pid")
    # a background job (never the foreground) starts cairn and exits: cairn's group is left
    # without a parent in the session; an async command's stdin would be /dev/null, hence < /dev/tty
    script = (f"set -m; ( {cmd} -e {exp} -- sh -c 'read x; echo got=$x' < /dev/tty & "
              f"echo $! > {pidfile} ) & wait $!; "
              f"while kill -0 $(cat {pidfile}) 2>/dev/null; do sleep 0.05; done; echo gone")
    argv = ["/bin/bash", "--norc", "--noprofile", "-c", script]
    rc, out = _pty_run(argv, [(b"gone", b"")], env=base_env(), cwd=workdir)
    assert rc == 0 and "hanging it up" in out and not re.search(r"^got=", out, re.M), (rc, out)
    assert f"KILLED (signal {int(signal.SIGHUP)})" in out, out
    assert find_run(target, exp)["info"]["status"] == "KILLED"
