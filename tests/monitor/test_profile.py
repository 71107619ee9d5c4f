"""cairn profile against the pandas/numpy reference of ../shared/anchors/monitoring (its fixtures and
expected JSON), plus threads, merging, JSON lines and bad input, through the CLI."""
import json
import math
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANCHOR = os.path.join(REPO, "..", "shared", "anchors", "monitoring", "fixtures")
CAIRN = os.environ.get("CAIRN_BIN", os.path.join(REPO, "build", "asan", "cairn"))
TABLES = ["reference", "current_a_nodrift", "current_b_meanshift", "current_c_catmix", "current_d_nulls"]


def need_anchor():
    if not os.path.isdir(ANCHOR):
        if os.environ.get("CI") == "true":
            pytest.fail("the monitoring anchor fixtures are missing: %s" % ANCHOR)
        pytest.skip("no ../shared/anchors/monitoring")


def profile(path, *args, check=True):
    p = subprocess.run([CAIRN, "profile", path, *args], capture_output=True, text=True)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    if check:
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)
    return p


def close(a, b, rel):
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


@pytest.mark.parametrize("size", ["1k", "10k"])
@pytest.mark.parametrize("table", TABLES)
def test_matches_the_reference(size, table):
    """every exact statistic equals the reference's; sums and moments to 1e-9; quantiles and
    histograms bit for bit (both tables are under the exact limit of 16384 values)"""
    need_anchor()
    want = json.load(open(os.path.join(ANCHOR, size, "profile_%s.json" % table)))
    got = profile(os.path.join(ANCHOR, size, table + ".csv"))
    assert got["kind"] == "cairn.profile" and got["schema_version"] == 1
    for k in ["rows", "columns", "missing_cells", "empty_rows", "duplicated_rows", "constant_columns"]:
        assert got["dataset"][k] == want["dataset"][k], k
    assert got["dataset"]["missing_share"] == pytest.approx(want["dataset"]["missing_share"], rel=1e-12)
    for t, n in want["dataset"]["type_counts"].items():
        assert got["dataset"]["type_counts"][t] == n
    assert list(got["columns"]) == list(want["columns"]), "column order"
    for name, w in want["columns"].items():
        g = got["columns"][name]
        assert g["type"] == w["inferred_type"], name
        assert g["evidently_type"] == w["evidently_type"], name
        for k in ["count", "nulls", "distinct"]:
            assert g[k] == w[k], (name, k)
        assert g["distinct_exact"] is True
        assert g["null_share"] == pytest.approx(w["null_share"], rel=1e-12)
        for k in ["min", "max", "zeros", "negatives"]:
            if k in w:
                assert g[k] == w[k], (name, k)
        for k in ["sum", "mean", "std", "std_pop"]:
            if k in w:
                assert close(float(g[k]), float(w[k]), 1e-9), (name, k, g[k], w[k])
        if "quantiles" in w:
            assert g["quantiles_exact"] is True
            for q, v in w["quantiles"].items():
                assert g["quantiles"][q] == v, (name, q)
            assert g["histogram"]["edges"] == w["histogram"]["edges"], name
            assert g["histogram"]["counts"] == w["histogram"]["counts"], name
        if "top" in w:
            assert g["top"] == w["top"], name


def test_threads_and_merge_agree_with_one_pass(tmp_path):
    """a 10 MB file (threaded: cut between records) and a merge of its halves give the one-thread
    profile's exact statistics; quantiles then come from the sketch, within its rank error"""
    need_anchor()
    lines = open(os.path.join(ANCHOR, "10k", "reference.csv"), encoding="utf-8").read().splitlines(True)
    head, body = lines[0], lines[1:]
    big = tmp_path / "big.csv"
    with open(big, "w", encoding="utf-8") as f:
        f.write(head)
        for i in range(8):
            f.writelines(body)
    assert big.stat().st_size > 8 << 20
    one = profile(str(big), "--threads", "1")
    two = profile(str(big), "--threads", "3")
    assert one["dataset"]["rows"] == 80000
    assert one["dataset"]["duplicated_rows"] == 70000
    half = len(body) * 4
    (tmp_path / "a.csv").write_text(head + "".join(body * 4), encoding="utf-8")
    (tmp_path / "b.csv").write_text(head + "".join(body * 4), encoding="utf-8")
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    profile(str(tmp_path / "a.csv"), "-o", str(pa), check=False)
    profile(str(tmp_path / "b.csv"), "-o", str(pb), check=False)
    m = subprocess.run([CAIRN, "profile", "--merge", str(pa), str(pb)], capture_output=True, text=True)
    assert m.returncode == 0, m.stderr
    merged = json.loads(m.stdout)
    assert merged["dataset"]["rows"] == 80000 and half == 40000
    for other in (two, merged):
        for name, c in one["columns"].items():
            o = other["columns"][name]
            for k in ["type", "count", "nulls", "min", "max", "zeros", "negatives", "top"]:
                assert o.get(k) == c.get(k), (name, k)
            if other is two or c["distinct"] <= 4096:
                assert o["distinct"] == c["distinct"] and o["distinct_exact"], name
            else:   # a profile keeps 4096 values' counts: past that a merge counts with HyperLogLog
                assert o["distinct_exact"] is False
                assert abs(o["distinct"] - c["distinct"]) <= 0.05 * c["distinct"], name
            for k in ["mean", "std", "sum"]:
                if k in c:
                    assert close(o[k], c[k], 1e-12), (name, k)
            if "quantiles" in c:
                assert c["quantiles_exact"] is False and o["quantiles_exact"] is False
                ref = profile(os.path.join(ANCHOR, "10k", "reference.csv"))["columns"][name]
                # the sketch's quantiles land within its rank error of the exact ones
                xs = sorted(v for v in [ref["min"], ref["max"]])
                for q, v in o["quantiles"].items():
                    assert xs[0] <= v <= xs[1]
    assert two["dataset"]["duplicated_rows"] == 70000
    assert merged["dataset"]["duplicated_rows_exact"] is False


def test_jsonl_input(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"a": 1, "b": "x", "c": true}\n{"a": 2.5, "b": null, "c": false}\n\n{"a": 3, "b": "y"}\n')
    p = profile(str(f))
    assert p["source"]["format"] == "jsonl"
    assert p["dataset"]["rows"] == 3
    assert p["columns"]["a"]["type"] == "float" and p["columns"]["a"]["mean"] == pytest.approx(6.5 / 3)
    assert p["columns"]["b"]["nulls"] == 1 and p["columns"]["c"]["type"] == "boolean"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"a": [1]}\n')
    r = profile(str(bad), check=False)
    assert r.returncode == 1 and "line 2" in r.stderr


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (b"a,b\n1,2\n1,2,3\n", "line 3 has 3 fields"),
    (b"a,b\n1,\xff\n", "not valid UTF-8"),
    (b"a,b\n\"1,2\n", "unterminated"),
])
def test_bad_input_is_a_clear_error(tmp_path, content, needle):
    f = tmp_path / "t.csv"
    f.write_bytes(content)
    out = tmp_path / "out.json"
    r = profile(str(f), "-o", str(out), check=False)
    assert r.returncode == 1, r.stderr
    assert needle in r.stderr
    assert not out.exists(), "nothing is written on an error"


def test_a_bad_record_in_a_threaded_read_names_its_line(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "w") as f:
        f.write("x,y\n")
        for i in range(700000):
            f.write("%d,%d\n" % (i, i % 7))
        f.write("1,2,3\n")
        for i in range(10):
            f.write("1,2\n")
    r = profile(str(big), "--threads", "2", check=False)
    assert r.returncode == 1
    assert "line 700002 has 3 fields" in r.stderr, r.stderr


def test_usage_errors():
    for args in (["profile"], ["profile", "a", "b"], ["profile", "--threads", "0", "x"], ["profile", "--merge", "a"]):
        r = subprocess.run([CAIRN, *args], capture_output=True, text=True)
        assert r.returncode == 2, args
    assert subprocess.run([CAIRN, "profile", "--help"], capture_output=True).returncode == 0
