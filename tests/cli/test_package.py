"""`cairn models package URI -o DIR`: the container build context it writes, proved without a
container engine (none runs here: podman fails on setrlimit).

For (a) a fixture model directory and (b) a model the unmodified MLflow client logged and
registered in a `cairn server` (local root and remote), each test
  * parses the Dockerfile: FROM debian:bookworm-slim, one apt-get layer with
    --no-install-recommends whose lists are removed, a non-root USER, EXPOSE, STOPSIGNAL SIGTERM,
    a HEALTHCHECK on /ping, an ENTRYPOINT that a COPY put where the entrypoint's default root is;
  * checks that the packages it installs are exactly the Debian packages of the libraries `ldd`
    lists for the packaged binary, computed here independently (ldd, then dpkg-query --search
    under /lib and /usr/lib). The rule: every library with a file is covered except those of
    libc6 (the C library and loader, in every Debian image); the vDSO has no file. The same
    holds for build/cairn (the release binary) when it was built;
  * runs the context's entrypoint.sh outside a container, its root mapped with
    CAIRN_PACKAGE_ROOT (the image's default is /opt/cairn), with extra arguments that must reach
    cairn serve, and checks /invocations answers what MLflow's pyfunc predicted (expected.json),
    that the Dockerfile's own HEALTHCHECK command passes against it (and fails without it), and
    that SIGTERM reaches cairn itself (exec'd) and it exits 0.
Refusals: DIR not empty, an unknown model, a model with no flavor cairn can serve, a Python
model without requirements.txt, DIR inside the model. hadolint and shellcheck run when installed.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from conftest import REPO, base_env, cairn_bin, free_port, run_cli, SANITIZER

PY = os.environ.get("PY", "/usr/bin/python3")
FIXTURE = os.path.join(REPO, "tests", "model", "fixtures", "xgb", "booster_binary")
LOG_MODELS = os.path.join(REPO, "tests", "serve", "log_models.py")
RELEASE_BIN = os.path.join(REPO, "build", "cairn")
# what the Dockerfile installs when dpkg cannot say (docs/serving.md, Packaging)
STATIC_LIST = ["libcsv3", "libcurl4", "libjansson4", "libmicrohttpd12", "libsqlite3-0", "libssl3",
               "libuuid1", "libxgboost0", "libyaml-0-2"]
BASE_IMAGE_PACKAGES = {"libc6"}   # the rule: libc6 is in every Debian image and is not named


def mlflow_importable():
    try:
        p = subprocess.run([PY, "-c", "import mlflow, xgboost"], capture_output=True, timeout=180,
                           env=base_env())
        return p.returncode == 0
    except Exception:
        return False


# ---------------------------------------------------------------- what the binary needs, computed here

def ldd_libraries(binary):
    """[(soname, path)] of every library ldd lists with a file (the vDSO has none)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        line = line.strip()
        m = re.match(r"(\S+) => (/\S+)", line)
        if m:
            libs.append((m.group(1), m.group(2)))
        elif line.startswith("/"):
            libs.append((os.path.basename(line.split()[0]), line.split()[0]))
        else:
            assert "not found" not in line, f"ldd: {line}"
    return libs


def dpkg_owner(path):
    """The runtime package owning path, as dpkg knows it under /lib or /usr/lib."""
    forms = [path, os.path.realpath(path)]
    for f in list(forms):
        forms.append(f[4:] if f.startswith("/usr/") else "/usr" + f)
    for f in forms:
        p = subprocess.run(["dpkg-query", "--search", f], capture_output=True, text=True)
        for line in p.stdout.splitlines():
            owners, _, file = line.partition(": ")
            if file == f and not line.startswith("diversion "):
                names = [o.strip().split(":")[0] for o in owners.split(",")]
                runtime = [n for n in names if not n.endswith("-dev")]
                return (runtime or names)[0]
    return None


def required_packages(binary):
    """{package: [sonames]} the image must install for binary, by the rule above."""
    need = {}
    for soname, path in ldd_libraries(binary):
        deb = dpkg_owner(path)
        assert deb, f"no Debian package owns {path} ({soname})"
        if deb not in BASE_IMAGE_PACKAGES:
            need.setdefault(deb, []).append(soname)
    return need


# ---------------------------------------------------------------- the Dockerfile

def instructions(text):
    """[(INSTRUCTION, arguments)] with continuation lines joined and comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):   # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    assert not cur, "the Dockerfile ends inside a continued instruction"
    return out


def apt_packages(ins):
    """The packages of the one RUN that calls apt-get install."""
    runs = [a for i, a in ins if i == "RUN" and "apt-get install" in a]
    assert len(runs) == 1, f"apt-get install in {len(runs)} RUN instructions"
    run = runs[0]
    assert "apt-get update" in run and "rm -rf /var/lib/apt/lists/*" in run, run
    install = run.split("apt-get install", 1)[1].split("&&", 1)[0].split()
    assert "--no-install-recommends" in install, run
    return [w for w in install if not w.startswith("-")]


def check_dockerfile(ctx):
    text = open(os.path.join(ctx, "Dockerfile")).read()
    ins = instructions(text)
    kinds = [i for i, _ in ins]
    assert ins[0] == ("FROM", "debian:bookworm-slim"), ins[0]
    for needed in ("USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "STOPSIGNAL"):
        assert kinds.count(needed) == 1, (needed, kinds)
    args = dict(ins)
    user, _, group = args["USER"].partition(":")
    assert user not in ("root", "0") and user.isdigit(), args["USER"]   # numeric: runAsNonRoot can check it
    assert group.isdigit() and group != "0", args["USER"]
    run = [a for i, a in ins if i == "RUN" and "useradd" in a]
    assert run and f"groupadd --gid {group} " in run[0] and f"useradd --uid {user} --gid {group} " in run[0], run
    assert args["EXPOSE"] == "8080"
    assert args["STOPSIGNAL"] == "SIGTERM"
    assert "--interval=" in args["HEALTHCHECK"] and " CMD " in args["HEALTHCHECK"]
    assert "/ping" in args["HEALTHCHECK"]
    entry = json.loads(args["ENTRYPOINT"])
    assert entry == ["/opt/cairn/entrypoint.sh"], entry
    # every COPY source is in the context; the entrypoint, binary and model land where
    # entrypoint.sh looks by default
    copied = {}
    for i, a in ins:
        if i == "COPY":
            *srcs, dest = a.split()
            for s in srcs:
                assert os.path.exists(os.path.join(ctx, s)), s
                copied[s] = os.path.join(dest, os.path.basename(s)) if dest.endswith("/") else dest
    assert copied["cairn"] == "/opt/cairn/cairn" and copied["entrypoint.sh"] == "/opt/cairn/entrypoint.sh"
    assert copied["model"] == "/opt/cairn/model"
    ep = open(os.path.join(ctx, "entrypoint.sh")).read()
    assert 'root="${CAIRN_PACKAGE_ROOT:-/opt/cairn}"' in ep, ep
    assert re.search(r'^exec "\$root/cairn" serve "\$root/model[^"]*" .*--host 0\.0\.0\.0 --port '
                     r'"\$\{PORT:-8080\}".* "\$@"$', ep, re.M), ep
    # USER comes after the installs (they need root) and before ENTRYPOINT
    assert kinds.index("USER") > max(k for k, i in enumerate(kinds) if i == "RUN")
    pkgs = apt_packages(ins)
    assert not [p for p in pkgs if p.endswith("-dev")], pkgs
    assert len(pkgs) == len(set(pkgs)), pkgs
    if shutil.which("hadolint"):
        p = subprocess.run(["hadolint", "--ignore", "DL3008", os.path.join(ctx, "Dockerfile")],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    if shutil.which("shellcheck"):
        p = subprocess.run(["shellcheck", os.path.join(ctx, "entrypoint.sh")], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    ignore = open(os.path.join(ctx, ".dockerignore")).read().split("\n")
    assert [l for l in ignore if l and not l.startswith("#")] == ["*", "!cairn", "!entrypoint.sh", "!model"]
    return text, ins, pkgs


def healthcheck_cmd(ins):
    hc = dict(ins)["HEALTHCHECK"]
    return hc.split(" CMD ", 1)[1]   # shell form: docker runs it with /bin/sh -c


# ---------------------------------------------------------------- running the context

class Entrypoint:
    """The context's entrypoint.sh, run as the image runs it, with the root mapped."""

    def __init__(self, ctx, *extra):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.err_path = os.path.join(os.path.dirname(ctx), f"entrypoint-{self.port}.stderr")
        self._err = open(self.err_path, "wb")
        env = base_env()
        env.update(CAIRN_PACKAGE_ROOT=ctx, PORT=str(self.port), CAIRN_MODEL_CACHE=os.path.join(ctx, "..", "cache"))
        env.setdefault("LSAN_OPTIONS", f"suppressions={REPO}/tests/lsan.supp:print_suppressions=0")
        self.proc = subprocess.Popen(["/bin/sh", os.path.join(ctx, "entrypoint.sh"), *extra],
                                     stdout=subprocess.DEVNULL, stderr=self._err, stdin=subprocess.DEVNULL,
                                     env=env)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"entrypoint exited {self.proc.returncode}: {self.stderr()}"
            try:
                if requests.get(self.url + "/ping", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "entrypoint not ready: " + self.stderr()
            time.sleep(0.05)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        """SIGTERM, as docker stop sends it (STOPSIGNAL); the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._err.close()
        assert not SANITIZER.search(self.stderr()), self.stderr()
        return rc


def close(got, want, tol=1e-6):
    return len(got) == len(want) and all(abs(g - w) <= tol for g, w in zip(got, want))


def prove_context(ctx, columns, rows, want, name=None):
    """Run the context outside a container and check what it answers."""
    text, ins, pkgs = check_dockerfile(ctx)
    extra = ["--host", "127.0.0.1"]            # honoured: the entrypoint passes "$@" on
    if not name:
        extra += ["--name", "packaged"]
    ep = Entrypoint(ctx, *extra)
    try:
        # exec: the process started is cairn itself, so docker stop's SIGTERM reaches it
        assert os.path.realpath(f"/proc/{ep.proc.pid}/exe") == os.path.realpath(os.path.join(ctx, "cairn"))
        r = requests.post(ep.url + "/invocations", json={"dataframe_split": {"columns": columns, "data": rows}},
                          timeout=20)
        assert r.status_code == 200, r.text
        assert close(r.json()["predictions"], want), (r.json(), want)
        meta = requests.get(f"{ep.url}/v2/models/{name or 'packaged'}", timeout=10)
        assert meta.status_code == 200, meta.text
        hc = healthcheck_cmd(ins)
        env = dict(base_env(), PORT=str(ep.port))
        h = subprocess.run(["/bin/sh", "-c", hc], env=env, capture_output=True, text=True, timeout=10)
        assert h.returncode == 0, h.stdout + h.stderr
    finally:
        rc = ep.stop()
    assert rc == 0, ep.stderr()
    h = subprocess.run(["/bin/sh", "-c", hc], env=env, capture_output=True, text=True, timeout=10)
    assert h.returncode != 0, "the health check passes with no server"
    return text, pkgs


def package(argv_target, uri, out, *extra, binary=None, env=None):
    argv = ["models", "package", uri, "-o", out, *extra] + (argv_target or [])
    if binary:
        e = base_env()
        e.update(env or {})
        p = subprocess.run([binary] + argv, capture_output=True, text=True, env=e, timeout=120,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr
    r = run_cli(argv, env=env, timeout=120)
    return r.rc, r.out, r.err


# ---------------------------------------------------------------- tests

def test_package_help():
    r = run_cli(["models", "package", "--help"])
    assert r.rc == 0, r
    for want in ("usage: cairn models package URI -o DIR", "Dockerfile", "debian:bookworm-slim", "ldd",
                 "dpkg -S", "entrypoint.sh", "--allow-pickle", "HEALTHCHECK", "examples:"):
        assert want in r.out, (want, r.out)
    r = run_cli(["models", "--help"])
    assert r.rc == 0 and "cairn models package URI -o DIR" in r.out, r


def test_package_fixture_runs_and_names_every_library(tmp_path):
    with open(os.path.join(FIXTURE, "expected.json")) as f:
        expected = json.load(f)
    ctx = str(tmp_path / "ctx")
    rc, out, err = package(None, FIXTURE, ctx)
    assert rc == 0, out + err
    assert f"wrote {ctx}" in out and "Dockerfile" in out and "entrypoint.sh" in out, out
    assert sorted(os.listdir(ctx)) == sorted([".dockerignore", "Dockerfile", "README.md", "cairn",
                                              "entrypoint.sh", "model"])
    assert sorted(os.listdir(os.path.join(ctx, "model"))) == sorted(os.listdir(FIXTURE))
    with open(cairn_bin(), "rb") as a, open(os.path.join(ctx, "cairn"), "rb") as b:
        assert a.read() == b.read(), "the context's cairn is not a copy of the binary"
    assert os.stat(os.path.join(ctx, "cairn")).st_mode & 0o777 == 0o755
    assert os.stat(os.path.join(ctx, "entrypoint.sh")).st_mode & 0o777 == 0o755
    for f in os.listdir(os.path.join(ctx, "model")):        # readable by the image's user
        assert os.stat(os.path.join(ctx, "model", f)).st_mode & 0o444 == 0o444
    text, pkgs = prove_context(ctx, expected["columns"], expected["data"], expected["predict"])
    # exactly the runtime packages of what ldd lists for the packaged binary, libc6 aside
    need = required_packages(os.path.join(ctx, "cairn"))
    assert set(pkgs) == set(need), (sorted(set(pkgs) - set(need)), sorted(set(need) - set(pkgs)))
    for soname in ("libmicrohttpd.so.12", "libjansson.so.4", "libxgboost.so.0", "libcurl.so.4"):
        assert any(soname in v for v in need.values()), soname
    assert "dpkg -S" in text and "STATIC PACKAGE LIST" not in text
    readme = open(os.path.join(ctx, "README.md")).read()
    for want in ("docker build", "docker run", "podman build", "podman run", FIXTURE, "cairn 0.",
                 "xgboost", "libc6", "/opt/cairn/model"):
        assert want in readme, want
    for deb, sonames in need.items():   # each package and why it is there
        row = [l for l in readme.splitlines() if l.startswith(f"| `{deb}` |")]
        assert row and all(s in row[0] for s in sonames), (deb, row)
        assert "linked by cairn" in row[0] or "needed by " in row[0], row


@pytest.mark.skipif(not os.access(RELEASE_BIN, os.X_OK), reason="build/cairn not built (make)")
def test_package_release_binary_names_every_library(tmp_path):
    """The rule for build/cairn itself: its Dockerfile names the package of every library
    `ldd build/cairn` lists, libc6 aside, and nothing else."""
    ctx = str(tmp_path / "ctx")
    rc, out, err = package(None, FIXTURE, ctx, binary=RELEASE_BIN)
    assert rc == 0, out + err
    _, _, pkgs = check_dockerfile(ctx)
    need = required_packages(RELEASE_BIN)
    assert set(pkgs) == set(need), (sorted(set(pkgs) - set(need)), sorted(set(need) - set(pkgs)))


@pytest.mark.skipif(not mlflow_importable(), reason="MLflow client or xgboost not importable (mlflow_env.sh)")
def test_package_registered_model_runs(target, uniq, tmp_path):
    """A model the unmodified MLflow client logged with mlflow.xgboost.log_model(...,
    registered_model_name=...) into a cairn server, packaged by alias from the root or the
    server, predicts in the context what MLflow's pyfunc predicted."""
    name = uniq("pkg")
    out = tmp_path / "models.json"
    env = dict(base_env(), MLFLOW_TRACKING_URI=target.uri)
    p = subprocess.run([PY, LOG_MODELS, target.uri, name, "1", str(out)], capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    models = json.loads(out.read_text())
    target.api.post("registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
    ctx = str(tmp_path / "ctx")
    rc, o, e = package(target.args, f"models:/{name}@champion", ctx,
                       env={"CAIRN_MODEL_CACHE": str(tmp_path / "cache")})
    assert rc == 0, o + e
    assert f"{name} version 1" in o, o
    assert os.path.isfile(os.path.join(ctx, "model", "MLmodel"))
    assert 'registered_model_meta' in os.listdir(os.path.join(ctx, "model"))
    text, _ = prove_context(ctx, models["columns"], models["rows"], models["versions"]["1"], name=name)
    assert f"{name} version 1" in text
    readme = open(os.path.join(ctx, "README.md")).read()
    for want in (f"{name} version 1", f"models:/{name}@champion", "mlflow-artifacts:", "cairn 0.",
                 f"-t {name}:1 ."):
        assert want in readme, want
    ep = open(os.path.join(ctx, "entrypoint.sh")).read()
    assert f"--name '{name}'" in ep, ep


def test_package_static_list_without_dpkg(tmp_path):
    """Where dpkg is absent the Dockerfile installs the documented static list and says so."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("ldd"), bin_dir / "ldd")        # ldd, but no dpkg-query
    ctx = str(tmp_path / "ctx")
    rc, out, err = package(None, FIXTURE, ctx, env={"PATH": str(bin_dir)})
    assert rc == 0, out + err
    assert "static package list" in err and "dpkg-query" in err, err
    text, _, pkgs = check_dockerfile(ctx)
    assert "STATIC PACKAGE LIST" in text and "dpkg-query" in text, text
    assert sorted(pkgs) == STATIC_LIST, pkgs
    docs = open(os.path.join(REPO, "docs", "serving.md")).read()
    assert all(f"`{p}`" in docs for p in STATIC_LIST), "docs/serving.md does not document the static list"


def test_package_python_flavor(tmp_path):
    """python_function without a native flavor: python3, the requirements in a venv, --allow-pickle,
    a warning; without requirements.txt it is refused."""
    model = tmp_path / "pymodel"
    shutil.copytree(FIXTURE, model)
    mlmodel = (model / "MLmodel").read_text()
    mlmodel = re.sub(r"  xgboost:\n(    .*\n)+", "", mlmodel).replace("mlflow.xgboost", "mlflow.sklearn")
    (model / "MLmodel").write_text(mlmodel)
    ctx = str(tmp_path / "ctx")
    rc, out, err = package(None, str(model), ctx)
    assert rc == 0, out + err
    assert "warning" in err and "--allow-pickle" in err and "Python" in err, err
    text, ins, pkgs = check_dockerfile(ctx)
    assert "python3" in pkgs and "python3-venv" in pkgs
    assert "PYTHON FLAVOR" in text and "--allow-pickle" in text
    runs = " ".join(a for i, a in ins if i == "RUN")
    assert "python3 -m venv /opt/cairn/venv" in runs
    assert "pip install --no-cache-dir -r /opt/cairn/requirements.txt" in runs
    assert ("COPY", "model/requirements.txt /opt/cairn/requirements.txt") in ins
    assert ("ENV", "PATH=/opt/cairn/venv/bin:$PATH") in ins
    ep = open(os.path.join(ctx, "entrypoint.sh")).read()
    assert "--allow-pickle \"$@\"" in ep and "PYTHON FLAVOR" in ep and "venv/bin/python3" in ep
    # the runtime packages are the same as for a native model
    native = str(tmp_path / "native")
    assert package(None, FIXTURE, native)[0] == 0
    assert set(pkgs) - {"python3", "python3-venv"} == set(check_dockerfile(native)[2])
    # no requirements.txt: nothing to install for it
    (model / "requirements.txt").unlink()
    rc, out, err = package(None, str(model), str(tmp_path / "ctx2"))
    assert rc == 1 and "requirements.txt" in err, out + err
    assert not os.path.exists(tmp_path / "ctx2")


def test_package_refusals(target, tmp_path):
    # DIR exists and has files: nothing is fetched, nothing changes
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    rc, out, err = package(None, FIXTURE, str(full))
    assert rc == 1 and "exists and is not an empty directory" in err, err
    assert os.listdir(full) == ["keep.txt"] and (full / "keep.txt").read_text() == "mine"
    # a file in the way
    rc, out, err = package(None, FIXTURE, str(full / "keep.txt"))
    assert rc == 1 and "exists and is not an empty directory" in err, err
    # an empty DIR is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, out, err = package(None, FIXTURE, str(empty))
    assert rc == 0 and os.path.isfile(empty / "Dockerfile"), out + err
    # an unknown model (MLflow's message), a malformed URI
    rc, out, err = package(target.args, "models:/no-such-model/1", str(tmp_path / "u"))
    assert rc == 2 and "no-such-model" in err and "not found" in err, err
    rc, out, err = package(target.args, "models:/", str(tmp_path / "u"))
    assert rc == 2, err
    rc, out, err = package(None, str(tmp_path / "nothing-here"), str(tmp_path / "u"))
    assert rc == 2, err
    assert not os.path.exists(tmp_path / "u")
    # no flavor cairn can serve
    onnx = tmp_path / "onnx"
    shutil.copytree(FIXTURE, onnx)
    text = re.sub(r"  xgboost:\n(    .*\n)+", "", (onnx / "MLmodel").read_text())
    (onnx / "MLmodel").write_text(text.replace("  python_function:", "  onnx:"))
    rc, out, err = package(None, str(onnx), str(tmp_path / "o"))
    assert rc == 1 and "no flavor cairn can serve" in err and "onnx" in err, err
    assert not os.path.exists(tmp_path / "o")
    # a bare file cairn cannot serve
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04N.")
    rc, out, err = package(None, str(tmp_path / "model.pkl"), str(tmp_path / "o"))
    assert rc == 1 and "cannot serve" in err, err
    # DIR inside the model directory it would copy
    rc, out, err = package(None, str(onnx), str(onnx / "ctx"))
    assert rc == 2 and "inside the model directory" in err, err
    # no -o
    r = run_cli(["models", "package", FIXTURE])
    assert r.rc == 2 and "-o DIR" in r.err, r
    # nothing half-written anywhere
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".cairn-package-")]
    assert not [n for n in os.listdir(onnx) if n.startswith(".cairn-package-")]


def test_package_bare_model_file(tmp_path):
    """A bare XGBoost file is served as cairn serve serves one: the entrypoint names the file."""
    with open(os.path.join(FIXTURE, "expected.json")) as f:
        expected = json.load(f)
    ctx = str(tmp_path / "ctx")
    rc, out, err = package(None, os.path.join(FIXTURE, "model.ubj"), ctx, "--json")
    assert rc == 0, out + err
    res = json.loads(out)
    assert res["serves"] == "model/model.ubj" and res["packages_from"] == "dpkg", res
    assert res["model"]["flavor"].startswith("xgboost") and not res["model"]["python"]
    assert os.listdir(os.path.join(ctx, "model")) == ["model.ubj"]
    assert '"$root/model/model.ubj"' in open(os.path.join(ctx, "entrypoint.sh")).read()
    # a bare Booster file has no signature: columns by position, named f0.. as in the booster
    prove_context(ctx, expected["columns"], expected["data"], expected["predict"])
