"""`cairn models download URI`: models logged and registered by the unmodified MLflow client,
fetched by cairn from the tracking server (--tracking-uri) and from its data root directly
(--root, the server still running), compared byte for byte with what MLflow's own
mlflow.artifacts.download_artifacts gives for the same URI; errors with MLflow's messages;
and servers that lie or die (tests/integration/lying_server.py)."""

import filecmp
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import mlflow
import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from helpers import unique_name

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def cairn_bin():
    b = os.environ.get("CAIRN_BIN", "build/cairn")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def cli(*argv, cache=None, timeout=120, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CAIRN_HOME")}
    if cache:
        env["CAIRN_MODEL_CACHE"] = cache
    p = subprocess.run([cairn_bin(), "models", "download", *argv], capture_output=True, text=True,
                       env=env, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
    return p


def tree(d):
    """Relative path -> bytes of every file under d."""
    out = {}
    for base, _, files in os.walk(d):
        for f in files:
            full = os.path.join(base, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, d)] = fh.read()
    return out


def assert_same_tree(a, b):
    ta, tb = tree(a), tree(b)
    assert sorted(ta) == sorted(tb), (sorted(ta), sorted(tb))
    for k in ta:
        assert ta[k] == tb[k], f"{k} differs"
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only


@pytest.fixture(scope="module")
def logged(tracking_uri, tmp_path_factory):
    """One sklearn model logged with registered_model_name (version 1), a second version, an
    alias, and plain run artifacts; returns the names and ids."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    name = f"dl-churn-{os.getpid()}-{int(time.time() * 1000) % 100000}"
    mlflow.set_experiment(name)
    X, y = load_breast_cancer(return_X_y=True)
    clf = LogisticRegression(max_iter=50).fit(X[:, :5], y)
    plain = tmp_path_factory.mktemp("plain")
    (plain / "weights.bin").write_bytes(os.urandom(70000))
    (plain / "nested").mkdir()
    (plain / "nested" / "conf.json").write_text('{"a": 1}')
    (plain / "empty.txt").write_bytes(b"")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(clf, name="model", registered_model_name=name, input_example=X[:2, :5])
        mlflow.log_artifacts(str(plain), "plain")
    with mlflow.start_run():
        info2 = mlflow.sklearn.log_model(clf, name="model", registered_model_name=name)
    c = MlflowClient()
    c.set_registered_model_alias(name, "champion", "1")
    return {"name": name, "run_id": run.info.run_id, "model_id": info.model_id, "model_id2": info2.model_id,
            "lm_uri": c.get_logged_model(info.model_id).artifact_location}


def uri_forms(lg):
    n = lg["name"]
    return {
        "alias": f"models:/{n}@champion",
        "version": f"models:/{n}/1",
        "latest": f"models:/{n}/latest",
        "stage": f"models:/{n}/None",
        "logged_model": f"models:/{lg['model_id']}",
        "run_logged_model": f"runs:/{lg['run_id']}/model",
        "run_artifacts": f"runs:/{lg['run_id']}/plain",
        "mlflow_artifacts": lg["lm_uri"],
    }


def mlflow_download(uri, dst):
    os.makedirs(dst)
    path = mlflow.artifacts.download_artifacts(uri, dst_path=dst)
    return path.rstrip("/")


def targets(tracking_uri, cairn_tmp):
    out = [("remote", ["--tracking-uri", tracking_uri])]
    if cairn_tmp is not None:
        out.append(("local", ["--root", os.path.join(cairn_tmp, "root")]))
    return out


@pytest.mark.parametrize("form", ["alias", "version", "latest", "stage", "logged_model", "run_logged_model",
                                  "run_artifacts", "mlflow_artifacts"])
def test_download_matches_mlflow(logged, form, tracking_uri, cairn_tmp, tmp_path):
    uri = uri_forms(logged)[form]
    want = mlflow_download(uri, str(tmp_path / "mlflow"))
    for mode, args in targets(tracking_uri, cairn_tmp):
        out = tmp_path / f"cairn-{mode}"
        p = cli(uri, "-o", str(out), *args)
        assert p.returncode == 0, (mode, p.stderr)
        assert p.stdout.strip() == str(out)
        assert_same_tree(want, str(out))
        # the cache: the same files, downloaded once
        cache = str(tmp_path / f"cache-{mode}")
        p1 = cli(uri, *args, cache=cache)
        assert p1.returncode == 0, p1.stderr
        entry = p1.stdout.strip()
        assert os.path.dirname(entry) == cache
        assert_same_tree(want, entry)
        before = {f: os.stat(os.path.join(entry, f)).st_ino for f in tree(entry)}
        p2 = cli(uri, *args, cache=cache)
        assert p2.returncode == 0 and p2.stdout.strip() == entry
        assert {f: os.stat(os.path.join(entry, f)).st_ino for f in tree(entry)} == before
        assert os.listdir(cache) == [os.path.basename(entry)]


def test_latest_moves_with_new_versions(logged, tracking_uri, tmp_path):
    """models:/name/latest is version 2; the alias names version 1: different files (meta)."""
    p = cli(f"models:/{logged['name']}/latest", "--json", "--tracking-uri", tracking_uri,
            cache=str(tmp_path / "c"))
    assert p.returncode == 0, p.stderr
    ref = json.loads(p.stdout)
    assert ref["version"] == "2" and ref["kind"] == "version" and ref["model_id"] == logged["model_id2"]
    assert ref["source"].startswith("mlflow-artifacts:/") and ref["dir"].startswith(str(tmp_path))


def mlflow_error(uri, tmp_path):
    """The message MLflow's client gives for uri (without the error code it puts before a
    server's message: cairn prints the server's message as it is)."""
    with pytest.raises(MlflowException) as e:
        mlflow_download(uri, str(tmp_path / f"m{abs(hash(uri))}"))
    return re.sub(r"^[A-Z_]+: ", "", e.value.message)


@pytest.mark.parametrize("suffix", ["/9", "@nope", "/Staging"])
def test_unknown_version_alias_stage(logged, suffix, tracking_uri, cairn_tmp, tmp_path):
    uri = f"models:/{logged['name']}{suffix}"
    want = mlflow_error(uri, tmp_path)
    for mode, args in targets(tracking_uri, cairn_tmp):
        p = cli(uri, *args, cache=str(tmp_path / "c"))
        assert p.returncode == 2, (mode, p.stderr)
        assert p.stderr.strip() == f"cairn models: {want}", mode
        assert not os.path.exists(tmp_path / "c") or not os.listdir(tmp_path / "c")


def test_unknown_model_and_logged_model(tracking_uri, cairn_tmp, tmp_path, request):
    for uri in (f"models:/{unique_name(request)}/1", f"models:/{unique_name(request)}@x",
                "models:/m-00000000000000000000000000000000"):
        want = mlflow_error(uri, tmp_path)
        for mode, args in targets(tracking_uri, cairn_tmp):
            p = cli(uri, *args)
            assert p.returncode == 2, (mode, p.stderr)
            assert p.stderr.strip() == f"cairn models: {want}", (mode, uri)


@pytest.mark.parametrize("uri", ["models:/", "models:/x@", "models:/@", "runs:/", "runs:/x/model",
                                 "models:/nope-x/", "models:/nope-y/Staging/sub/path"])
def test_bad_uri_has_mlflows_message(uri, tracking_uri, tmp_path):
    want = mlflow_error(uri, tmp_path)
    p = cli(uri, "--tracking-uri", tracking_uri)
    assert p.returncode == 2
    assert p.stderr.strip() == f"cairn models: {want}"


def test_local_directory_needs_no_store(logged, tracking_uri, tmp_path):
    d = cli(f"models:/{logged['name']}/1", "-o", str(tmp_path / "m"), "--tracking-uri", tracking_uri)
    assert d.returncode == 0, d.stderr
    work = tmp_path / "cwd"
    work.mkdir()
    p = cli(str(tmp_path / "m"), cwd=str(work))
    assert p.returncode == 0 and p.stdout.strip() == str(tmp_path / "m")
    assert not os.path.exists(work / "cairn-data")  # no data root was opened or created
    p = cli(str(tmp_path / "m" / "model.pkl"))
    assert p.returncode == 0 and p.stdout.strip() == str(tmp_path / "m" / "model.pkl")
    p = cli(str(tmp_path))
    assert p.returncode == 2 and "MLmodel" in p.stderr


def test_output_directory_must_be_empty(logged, tracking_uri, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    p = cli(f"models:/{logged['name']}/1", "-o", str(tmp_path / "full"), "--tracking-uri", tracking_uri)
    assert p.returncode != 0 and "not an empty directory" in p.stderr
    assert os.listdir(tmp_path / "full") == ["keep.txt"]


# ---- servers that lie or die ----

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Liar:
    def __init__(self, mode):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "lying_server.py"), str(self.port), mode],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("lying_server.py did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def liar(request):
    servers = []

    def start(mode):
        s = Liar(mode)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()


def nothing_escaped(tmp_path, port):
    found = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path) for f in fs if "escape" in f]
    assert not found, found
    assert not os.path.exists(f"/tmp/escape-{port}.txt")
    assert not os.path.exists(os.path.join(os.path.dirname(str(tmp_path)), "escape.txt"))


@pytest.mark.cairn_only
@pytest.mark.parametrize("mode", ["dotdot", "nested", "absolute", "dotdir"])
def test_listing_with_unsafe_paths_writes_nothing(liar, mode, tmp_path):
    s = liar(mode)
    cache = tmp_path / "cache"
    for uri in ("models:/evil@prod", "mlflow-artifacts:/evil"):
        p = cli(uri, "--tracking-uri", s.url, cache=str(cache))
        assert p.returncode == 2, p.stderr
        assert "unsafe path" in p.stderr, p.stderr
        p = cli(uri, "-o", str(tmp_path / "out" / "m"), "--tracking-uri", s.url)
        assert p.returncode == 2 and "unsafe path" in p.stderr
    assert not cache.exists() or not os.listdir(cache)
    assert not (tmp_path / "out" / "m").exists()
    nothing_escaped(tmp_path, s.port)


@pytest.mark.cairn_only
def test_size_that_disagrees_with_the_listing(liar, tmp_path):
    s = liar("size")
    p = cli("models:/evil@prod", "--tracking-uri", s.url, cache=str(tmp_path / "cache"))
    assert p.returncode == 1 and "larger than the 3 bytes listed" in p.stderr, p.stderr
    assert not os.listdir(tmp_path / "cache")


@pytest.mark.cairn_only
def test_server_dying_mid_download_leaves_no_entry(liar, tmp_path):
    s = liar("die")
    cache = tmp_path / "cache"
    p = cli("models:/evil@prod", "--tracking-uri", s.url, cache=str(cache))
    assert p.returncode == 1, p.stderr
    assert "big.bin" in p.stderr, p.stderr
    assert s.proc.wait(timeout=10) == 3  # it did die mid-reply
    assert not os.listdir(cache)  # no entry, no temporary folder
    p = cli("models:/evil@prod", "-o", str(tmp_path / "out"), "--tracking-uri", s.url)
    assert p.returncode == 1 and not (tmp_path / "out").exists()


@pytest.mark.cairn_only
def test_killed_download_is_cleaned_up_by_the_next(liar, logged, tracking_uri, tmp_path):
    s = liar("slow")
    cache = tmp_path / "cache"
    env = dict(os.environ, CAIRN_MODEL_CACHE=str(cache))
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([cairn_bin(), "models", "download", "models:/evil@prod", "--tracking-uri", s.url],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (cache.exists() and any(n.startswith(".cairn-fetch-")
                                                                      for n in os.listdir(cache))):
        time.sleep(0.05)
    time.sleep(0.5)  # part of big.bin is on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = os.listdir(cache)
    assert len(left) == 1 and left[0].startswith(".cairn-fetch-"), left  # only the temporary folder
    # a later download into the same cache removes it (its process is gone) and adds a whole entry
    p = cli(f"models:/{logged['name']}/1", "--tracking-uri", tracking_uri, cache=str(cache))
    assert p.returncode == 0, p.stderr
    assert os.listdir(cache) == [os.path.basename(p.stdout.strip())]
