"""`cairn predict`: batch scoring of CSV and JSON-lines files with models the unmodified MLflow
client saved, against what mlflow.pyfunc predicted (expected.json) and what `mlflow models
predict` writes; every kind of bad input exits 1 with a clear message and leaves no output
file; a registry URI is scored like a local directory; a 200 MB file is scored in constant
memory (the child's peak RSS)."""

import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from conftest import ANCHOR, FIXTURES, HERE, REPO, cairn_bin, fixture
from cairn_harness import SANITIZER

MODELS = sorted(d for d in os.listdir(FIXTURES) if os.path.isfile(os.path.join(FIXTURES, d, "expected.json")))
METHODS = ["predict", "predict_margin", "predict_proba"]
ANCHOR_MODEL = os.path.join(ANCHOR, "data", "model.json")


def predict(*args, stdin=None, timeout=120):
    p = subprocess.run([cairn_bin(), "predict", *args], input=stdin, capture_output=True, timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    assert not SANITIZER.search(err), err[-6000:]
    return p.returncode, p.stdout, err


def write_inputs(tmp, e):
    """expected.json's rows as CSV (NaN: empty field) and JSON lines (NaN: null)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(e["columns"])
    for r in e["data"]:
        w.writerow(["" if v is None else repr(v) for v in r])
    (tmp / "in.csv").write_text(out.getvalue())
    (tmp / "in.jsonl").write_text("".join(json.dumps(dict(zip(e["columns"], r))) + "\n" for r in e["data"]))
    return tmp / "in.csv", tmp / "in.jsonl"


def read_csv(path):
    """Rows of predictions: an int for a label, a float, or a list of them for prediction_0..k."""
    rows = list(csv.reader(open(path)))
    head, body = rows[0], rows[1:]
    assert head == ["prediction"] or head == [f"prediction_{k}" for k in range(len(head))], head

    def value(s):
        if s == "":
            return float("nan")
        return int(s) if s.lstrip("-").isdigit() else float(s)
    vals = [[value(s) for s in r] for r in body]
    return [v[0] for v in vals] if head == ["prediction"] else vals


def read_jsonl(path):
    return [json.loads(line)["prediction"] for line in open(path)]


def close(got, want, tol=1e-6):
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(close(g, w, tol) for g, w in zip(got, want))
    if isinstance(want, int):
        return type(got) is int and got == want   # labels exactly
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return isinstance(got, float) and abs(got - want) <= tol


def no_leftovers(folder, keep):
    left = sorted(set(os.listdir(folder)) - set(keep))
    assert not left, f"left behind: {left}"


@pytest.mark.parametrize("name", MODELS)
def test_every_format_matches_mlflow_pyfunc(tmp_path, name):
    d, e = fixture(name)
    csv_in, jsonl_in = write_inputs(tmp_path, e)
    methods = [m for m in METHODS if m in e]
    assert "predict" in methods
    for method in methods:
        want = e[method]
        for src in (csv_in, jsonl_in):
            for out, read in (("out.csv", read_csv), ("out.jsonl", read_jsonl)):
                rc, _, err = predict(d, "-i", str(src), "-o", str(tmp_path / out), "--method", method,
                                     "--threads", "2", "--chunk-rows", "5")
                assert rc == 0, err
                got = read(tmp_path / out)
                assert close(got, want), (name, method, src.name, out, got, want)
        rc, _, err = predict(d, "-i", str(csv_in), "-o", str(tmp_path / "out.json"), "--method", method)
        assert rc == 0, err
        assert close(json.loads((tmp_path / "out.json").read_text())["predictions"], want)


@pytest.mark.parametrize("name", ["booster_softprob", "classifier_multi", "regressor"])
def test_json_output_is_what_mlflow_models_predict_writes(tmp_path, name):
    d, e = fixture(name)
    csv_in, _ = write_inputs(tmp_path, e)
    p = subprocess.run([sys.executable, "-m", "mlflow", "models", "predict", "-m", d, "-i", str(csv_in), "-t", "csv",
                        "-o", str(tmp_path / "mlflow.json"), "--env-manager", "local"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    rc, _, err = predict(d, "-i", str(csv_in), "-o", str(tmp_path / "cairn.json"))
    assert rc == 0, err
    assert (tmp_path / "cairn.json").read_bytes() == (tmp_path / "mlflow.json").read_bytes()


def test_stdin_stdout_keep_input_and_delimiters(tmp_path):
    d, e = fixture("classifier_multi")
    csv_in, jsonl_in = write_inputs(tmp_path, e)
    rc, out, err = predict(d, "-i", "-", "-o", "-", stdin=csv_in.read_bytes())
    assert rc == 0 and err == "", err
    assert out.decode().splitlines()[0] == "prediction"
    assert [int(x) for x in out.decode().splitlines()[1:]] == e["predict"]
    rc, out, err = predict(d, "-i", "-", "--format", "jsonl", "-o", "-", "--keep-input", stdin=jsonl_in.read_bytes())
    assert rc == 0, err
    lines = [json.loads(x) for x in out.decode().splitlines()]
    assert [x.pop("prediction") for x in lines] == e["predict"]
    assert lines == [dict(zip(e["columns"], r)) for r in e["data"]]   # the input objects, as they were
    rc, out, err = predict(d, "-i", str(csv_in), "-o", "-", "--keep-input", "--method", "predict_proba")
    assert rc == 0, err
    rows = list(csv.reader(io.StringIO(out.decode())))
    assert rows[0] == e["columns"] + ["prediction_0", "prediction_1", "prediction_2"]
    assert close([[float(x) for x in r[-3:]] for r in rows[1:]], e["predict_proba"])
    # a semicolon-separated input, tab-separated output (.tsv), columns in another order
    tsv = tmp_path / "in.txt"
    cols = list(reversed(e["columns"]))
    tsv.write_text(";".join(cols) + "\n" + "".join(";".join("" if v is None else repr(v) for v in reversed(r)) + "\n"
                                                    for r in e["data"]))
    rc, _, err = predict(d, "-i", str(tsv), "-d", ";", "-o", str(tmp_path / "out.tsv"), "--keep-input")
    assert rc == 0, err
    rows = [r.split("\t") for r in (tmp_path / "out.tsv").read_text().splitlines()]
    assert rows[0] == cols + ["prediction"] and [int(r[-1]) for r in rows[1:]] == e["predict"]


def bad(tmp_path, model, content, name, msg, out="out.csv", extra=()):
    src = tmp_path / name
    if content is not None:
        src.write_bytes(content.encode() if isinstance(content, str) else content)
    before = sorted(os.listdir(tmp_path))
    rc, _, err = predict(model, "-i", str(src), "-o", str(tmp_path / out), *extra)
    assert rc == 1, (name, rc, err)
    assert err.startswith("cairn predict: ") and msg in err and err.count("\n") == 1, (name, err)
    no_leftovers(tmp_path, before)


def test_bad_input_exits_1_and_leaves_no_file(tmp_path):
    d, _ = fixture("classifier_binary")
    header = "f0,f1,f2,f3,f4\n"
    # the anchor model (no signature: its 30 feature names, all required)
    bad(tmp_path, ANCHOR_MODEL, "f0,f1\n1,2\n", "missing.csv", "Model is missing inputs")
    bad(tmp_path, d, header + "1,2,3,4,5\n" * 3 + "1,2,abc,4,5\n", "string.csv",
        "string.csv', line 5: column 'f2': could not convert string to float: 'abc'")
    bad(tmp_path, d, header + '1,2,3"x",4,5\n', "quote.csv", "(line 2): a quote inside an unquoted field")
    bad(tmp_path, d, "", "empty.csv", "is empty")
    bad(tmp_path, d, header, "header.csv", "has a header but no rows")
    bad(tmp_path, d, '{"f0": 1}\n{"f0": }\n', "bad.jsonl", "bad.jsonl', line 2: Invalid input", out="out.jsonl")
    bad(tmp_path, d, None, "absent.csv", "cannot open")
    (tmp_path / "ok.csv").write_text(header + "1,2,3,4,5\n")
    rc, _, err = predict(d, "-i", str(tmp_path / "ok.csv"), "-o", str(tmp_path / "no" / "such" / "out.csv"))
    assert rc == 1 and "cannot create a temporary file beside" in err and "No such file or directory" in err, err
    assert not (tmp_path / "no").exists()
    for uri, msg in (("/nonexistent/model", "no such"), (str(tmp_path / "ok.csv"), "")):
        rc, _, err = predict(uri, "-i", str(tmp_path / "ok.csv"), "-o", str(tmp_path / "out.csv"))
        assert rc == 1 and err.startswith("cairn predict: " + uri), err
    rc, _, err = predict("models:/nope/1", "--root", str(tmp_path / "root"), "-i", str(tmp_path / "ok.csv"),
                         "-o", str(tmp_path / "out.csv"))
    assert rc == 1 and "nope" in err, err
    assert not [f for f in os.listdir(tmp_path) if f.startswith(("out", ".out")) or ".tmp-" in f]
    # an existing output is left as it was by a failed run
    (tmp_path / "keep.csv").write_text("old\n")
    rc, _, _ = predict(d, "-i", str(tmp_path / "string.csv"), "-o", str(tmp_path / "keep.csv"))
    assert rc == 1 and (tmp_path / "keep.csv").read_text() == "old\n"


def test_an_interrupt_leaves_no_file(tmp_path):
    d, _ = fixture("regressor")
    out = tmp_path / "out.csv"
    # stdin left open: the run waits for more rows until SIGTERM (or SIGINT) ends it
    for sig in (signal.SIGTERM, signal.SIGINT):
        p = subprocess.Popen([cairn_bin(), "predict", d, "-i", "-", "-o", str(out)], stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(b"f0,f1,f2,f3,f4\n" + b"1,2,3,4,5\n" * 10000)
        p.stdin.flush()
        time.sleep(0.5)
        p.send_signal(sig)
        rc = p.wait(timeout=30)
        err = p.stderr.read().decode()
        p.stdin.close()
        assert rc == 1 and err == "cairn predict: interrupted\n", (rc, err)
        assert not SANITIZER.search(err)
        assert os.listdir(tmp_path) == [], os.listdir(tmp_path)


def test_usage_errors_exit_2(tmp_path):
    d, _ = fixture("regressor")
    (tmp_path / "in.csv").write_text("f0\n1\n")
    for args in ([d, "-i", str(tmp_path / "in.csv")], ["-i", "x", "-o", "y"], [d, d, "-i", "x", "-o", "y"],
                 [d, "-i", "x.csv", "-o", "y.json", "--keep-input"], [d, "-i", "x.csv", "-o", "y", "--threads", "0"],
                 [d, "-i", "x.csv", "-o", "y", "--format", "xml"], [d, "-i", "x.json", "-o", "y"],
                 [d, "-i", "x", "-o", "y", "--method", "guess"], [d, "--bogus"]):
        rc, _, err = predict(*args)
        assert rc == 2 and (err.startswith("cairn predict: ") or "usage:" in err), (args, rc, err)
    rc, out, _ = predict("--help")
    assert rc == 0 and b"usage: cairn predict URI -i FILE -o FILE" in out


def test_a_registry_uri(tracking, tmp_path):
    t = tracking()
    models = tmp_path / "models.json"
    p = subprocess.run([sys.executable, os.path.join(HERE, "log_models.py"), t.url, "churn", "2", str(models)],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, MLFLOW_TRACKING_URI=t.url))
    assert p.returncode == 0, p.stdout + p.stderr
    m = json.loads(models.read_text())
    (tmp_path / "in.csv").write_text(",".join(m["columns"]) + "\n" + "".join(",".join(repr(v) for v in r) + "\n"
                                                                           for r in m["rows"]))
    r = requests.post(t.url + "/api/2.0/mlflow/registered-models/alias",
                      json={"name": "churn", "alias": "champion", "version": "1"}, timeout=10)
    assert r.status_code == 200, r.text
    for uri, version in (("models:/churn/2", "2"), ("models:/churn@champion", "1"), ("models:/churn/latest", "2")):
        rc, _, err = predict(uri, "--tracking-uri", t.url, "--cache", str(tmp_path / "cache"),
                             "-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.jsonl"))
        assert rc == 0, err
        assert close(read_jsonl(tmp_path / "out.jsonl"), m["versions"][version]), uri


def release_bin():
    """The constant-memory test measures the release build (sanitizers keep freed memory in quarantine)."""
    b = os.environ.get("CAIRN_RELEASE_BIN", os.path.join(REPO, "build", "cairn"))
    if not os.access(b, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{b} is not built (make)" + " (CI=true: it must run)")
        pytest.skip(f"{b} is not built (make)")
    return b


def peak_rss_mb(args):
    """Run args; the child's peak resident set: VmHWM from /proc/PID/status while it runs, and
    the kernel's ru_maxrss (the same high-water mark) when it exits."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hwm = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                hwm = max([hwm] + [int(line.split()[1]) for line in f if line.startswith("VmHWM:")])
        except OSError:
            pass
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, args
    return max(hwm, usage.ru_maxrss) / 1024


def test_a_200_mb_file_in_constant_memory(tmp_path):
    cairn = release_bin()
    cols = [f"f{i}" for i in range(30)]
    import random
    rnd = random.Random(5)
    block = "".join(",".join(f"{rnd.gauss(0, 2):.4f}" for _ in cols) + "\n" for _ in range(5000))
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_text(",".join(cols) + "\n" + block)
    with open(big, "w") as f:
        f.write(",".join(cols) + "\n")
        while f.tell() < 200 * 1000 * 1000:
            f.write(block)
    rows = (os.path.getsize(big) - len(",".join(cols)) - 1) // len(block) * 5000
    base = peak_rss_mb([cairn, "predict", ANCHOR_MODEL, "-i", str(small), "-o", str(tmp_path / "s.csv")])
    peak = peak_rss_mb([cairn, "predict", ANCHOR_MODEL, "-i", str(big), "-o", str(tmp_path / "b.csv")])
    with open(tmp_path / "b.csv") as f:
        n = sum(1 for _ in f) - 1
    assert n == rows
    assert peak < 100, f"peak RSS {peak:.1f} MB scoring 200 MB ({base:.1f} MB for 5,000 rows)"
    assert peak - base < 40, f"peak RSS grew from {base:.1f} MB to {peak:.1f} MB with the file's size"
