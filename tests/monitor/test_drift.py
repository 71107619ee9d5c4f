"""cairn drift against the pandas/scipy reference of ../shared/anchors/monitoring (Evidently's default tests
and thresholds): every statistic of every column of its fixtures, every verdict; then what Evidently misses
(null shares, a proper chi-squared), profiles as inputs, the report, overrides, seeds and bad input."""
import json
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANCHOR = os.path.join(REPO, "..", "shared", "anchors", "monitoring", "fixtures")
CAIRN = os.environ.get("CAIRN_BIN", os.path.join(REPO, "build", "asan", "cairn"))
VARIANTS = ["a_nodrift", "b_meanshift", "c_catmix", "d_nulls"]


def need_anchor():
    if not os.path.isdir(ANCHOR):
        if os.environ.get("CI") == "true":
            pytest.fail("the monitoring anchor fixtures are missing: %s" % ANCHOR)
        pytest.skip("no ../shared/anchors/monitoring")


def drift(ref, cur, *args, rc=None):
    p = subprocess.run([CAIRN, "drift", "--reference", ref, "--current", cur, "--json", *args],
                       capture_output=True, text=True)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    if rc is not None:
        assert p.returncode == rc, p.stderr
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout), p.returncode


def rel(a, b):
    if a == b:
        return 0.0
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return float("inf")
    return abs(a - b) / max(abs(a), abs(b))


EXACT_KEYS = ["column_type", "inferred_type", "rows_reference", "rows_current", "n_reference", "n_current",
              "n_unique", "selected_test", "stattest_threshold", "drift_detected"]


@pytest.mark.parametrize("size", ["1k", "10k"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_the_reference(size, variant):
    need_anchor()
    d = os.path.join(ANCHOR, size)
    want = json.load(open(os.path.join(d, "drift_%s.json" % variant)))
    got, _ = drift(os.path.join(d, "reference.csv"), os.path.join(d, "current_%s.csv" % variant))
    assert got["kind"] == "cairn.drift"
    for name, w in want["columns"].items():
        g = got["columns"][name]
        if w["column_type"] == "text":
            assert g["drift_detected"] is False
            continue
        for k in EXACT_KEYS:
            assert g[k] == w[k], (name, k, g[k], w[k])
        for k in ["null_share_reference", "null_share_current"]:
            assert rel(g[k], w[k]) < 1e-12, (name, k)
        assert rel(g["drift_score"], w["drift_score"]) < 1e-9, (name, g["drift_score"], w["drift_score"])
        assert set(w["tests"]) <= set(g["tests"]), name
        for t, wt in w["tests"].items():
            gt = g["tests"][t]
            assert gt["drifted"] == wt["drifted"], (name, t)
            for k, v in wt.items():
                if k in ("threshold", "drifted", "p_value_method"):
                    continue
                if k == "statistic" and t == "ks":
                    assert abs(gt[k] - v) <= 1e-12, (name, t, k)
                else:
                    assert rel(gt[k], v) < 1e-9, (name, t, k, gt[k], v)
            if t == "ks":
                assert gt["p_value_method"] == wt["p_value_method"], name
        wb, gb = w["binning"], g["binning"]
        assert gb["kind"] == wb["kind"], name
        assert gb["reference_counts"] == wb["reference_counts"], name
        assert gb["current_counts"] == wb["current_counts"], name
        if wb["kind"] == "sturges":
            assert gb["edges"] == wb["edges"], name
        else:
            assert gb["keys"] == wb["keys"], name
    for k in ["number_of_columns", "number_of_drifted_columns", "share_of_drifted_columns", "drift_share"]:
        assert got["dataset"][k] == want["dataset"][k], k
    assert got["dataset"]["dataset_drift_evidently"] == want["dataset"]["dataset_drift"]
    for t, cols in want["flagged_by_test"].items():
        assert got["flagged_by_test"][t] == cols, t


def test_null_share_drift_is_caught_where_evidently_misses_it():
    need_anchor()
    d = os.path.join(ANCHOR, "10k")
    got, _ = drift(os.path.join(d, "reference.csv"), os.path.join(d, "current_d_nulls.csv"))
    c = got["columns"]["f_uniform"]
    assert c["drift_detected"] is False, "Evidently's verdict: nulls are dropped before the test"
    assert c["null_share"]["drifted"] is True and c["drifted"] is True
    assert got["flagged_by_test"]["null_share"] == ["f_uniform"]
    assert got["dataset"]["number_of_drifted_columns_with_nulls"] == 1
    got, _ = drift(os.path.join(d, "reference.csv"), os.path.join(d, "current_a_nodrift.csv"))
    assert got["flagged_by_test"]["null_share"] == []


def write_table(path, rows, seed, shift=0.0, nulls=0.0, mix=None):
    import random
    rnd = random.Random(seed)
    cats = ["c%02d" % i for i in range(20)]
    weights = mix or [1.0 / (i + 1) for i in range(20)]
    with open(path, "w") as f:
        f.write("x,g,k\n")
        for _ in range(rows):
            x = "" if nulls and rnd.random() < nulls else "%.6f" % (rnd.gauss(0, 1) + shift)
            f.write("%s,%.4f,%s\n" % (x, rnd.gammavariate(2, 3), rnd.choices(cats, weights)[0]))


def test_two_sample_chi_squared_does_not_false_alarm(tmp_path):
    """Evidently's chi-squared treats the reference counts as exact and over-alarms under no drift; the
    test of homogeneity knows the reference is a sample too: about 5 % at p < 0.05"""
    need_anchor()
    d = os.path.join(ANCHOR, "1k")
    got, _ = drift(os.path.join(d, "reference.csv"), os.path.join(d, "current_a_nodrift.csv"))
    for name in ("c_country", "c_product"):
        t = got["columns"][name]["tests"]
        assert t["chisquare"]["drifted"] is True
        assert t["chi2_homogeneity"]["p_value"] > 5 * t["chisquare"]["p_value"], (name, t)
    evid = homog = 0
    for seed in range(20):
        write_table(tmp_path / "r.csv", 1000, 2 * seed)
        write_table(tmp_path / "c.csv", 1000, 2 * seed + 1)
        got, _ = drift(str(tmp_path / "r.csv"), str(tmp_path / "c.csv"))
        t = got["columns"]["k"]["tests"]
        evid += t["chisquare"]["drifted"]
        homog += t["chi2_homogeneity"]["drifted"]
    assert evid >= 8, "Evidently's test alarms in a large share of no-drift pairs (%d/20)" % evid
    assert homog <= 3, "the two-sample test alarms about 1 in 20 (%d/20)" % homog
    got, _ = drift(os.path.join(d, "reference.csv"), os.path.join(d, "current_c_catmix.csv"),
                   "--cat-test", "chi2_homogeneity")
    assert got["columns"]["c_country"]["selected_test"] == "chi2_homogeneity"
    assert got["columns"]["c_country"]["drift_detected"] is True


def test_no_false_alarm_across_seeds_and_a_small_shift_is_found(tmp_path):
    """the defaults (10,000 rows: Wasserstein, Jensen-Shannon, the null-share test) raise no alarm on 20
    pairs of samples of one distribution, and find a 0.2-standard-deviation mean shift, a new category mix
    and 20 % nulls"""
    ref = tmp_path / "r.csv"
    write_table(ref, 10000, 1)
    for seed in range(20):
        write_table(tmp_path / "c.csv", 10000, 100 + seed)
        got, rc = drift(str(ref), str(tmp_path / "c.csv"), rc=0)
        drifted = [n for n, c in got["columns"].items() if c["drifted"]]
        assert drifted == [], (seed, drifted)
    write_table(tmp_path / "c.csv", 10000, 99, shift=0.2)
    got, _ = drift(str(ref), str(tmp_path / "c.csv"))
    assert [n for n, c in got["columns"].items() if c["drifted"]] == ["x"]
    assert got["columns"]["x"]["tests"]["wasserstein"]["score"] == pytest.approx(0.2, abs=0.03)
    write_table(tmp_path / "c.csv", 10000, 98, mix=[1.0 / (20 - i) for i in range(20)])
    got, _ = drift(str(ref), str(tmp_path / "c.csv"))
    assert [n for n, c in got["columns"].items() if c["drifted"]] == ["k"]
    write_table(tmp_path / "c.csv", 10000, 97, nulls=0.2)
    got, _ = drift(str(ref), str(tmp_path / "c.csv"))
    assert [n for n, c in got["columns"].items() if c["drifted"]] == ["x"]
    assert got["columns"]["x"]["drift_detected"] is False and got["columns"]["x"]["null_share"]["drifted"]


def test_profiles_as_inputs(tmp_path):
    """a profile holds its values up to 16384 a column, so at 10k rows drift from profiles is the drift
    from the tables"""
    need_anchor()
    d = os.path.join(ANCHOR, "10k")
    rp, cp = tmp_path / "ref.json", tmp_path / "cur.json"
    for src, dst in ((d + "/reference.csv", rp), (d + "/current_b_meanshift.csv", cp)):
        r = subprocess.run([CAIRN, "profile", src, "-o", str(dst)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    tables, _ = drift(d + "/reference.csv", d + "/current_b_meanshift.csv")
    profs, _ = drift(str(rp), str(cp))
    mixed, _ = drift(str(rp), d + "/current_b_meanshift.csv")
    for other in (profs, mixed):
        assert other["flagged_by_test"] == tables["flagged_by_test"]
        for name, c in tables["columns"].items():
            assert rel(other["columns"][name]["drift_score"], c["drift_score"]) < 1e-9 or c["drift_score"] is None, name


def test_report_is_self_contained(tmp_path):
    need_anchor()
    d = os.path.join(ANCHOR, "10k")
    html = tmp_path / "r.html"
    out = tmp_path / "r.json"
    p = subprocess.run([CAIRN, "drift", "--reference", d + "/reference.csv", "--current",
                        d + "/current_c_catmix.csv", "--report", str(html), "-o", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "c_country" in p.stdout and "DRIFT" in p.stdout
    text = html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "c_country" in text
    for ref in ("http://", "https://", "<script", "src="):
        assert ref not in text, ref
    assert json.loads(out.read_text())["kind"] == "cairn.drift"


def test_exit_status_is_a_gate(tmp_path):
    ref = tmp_path / "r.csv"
    cur = tmp_path / "c.csv"
    ref.write_text("x,y\n" + "".join("%d,%d\n" % (i, i % 3) for i in range(2000)))
    cur.write_text("x,y\n" + "".join("%d,%d\n" % (i + 5000, (i + 1) % 3) for i in range(2000)))
    got, rc = drift(str(ref), str(cur), rc=1)
    assert got["dataset"]["dataset_drift"] is True
    got, rc = drift(str(ref), str(ref), rc=0)
    assert got["dataset"]["number_of_drifted_columns"] == 0
    # an override of the test and threshold
    got, rc = drift(str(ref), str(cur), "--test", "x=ks:0.01", "--threshold", "y=0.5")
    assert got["columns"]["x"]["selected_test"] == "ks" and got["columns"]["x"]["stattest_threshold"] == 0.01
    assert got["columns"]["y"]["stattest_threshold"] == 0.5


def test_missing_and_extra_columns(tmp_path):
    ref = tmp_path / "r.csv"
    cur = tmp_path / "c.csv"
    ref.write_text("a,b\n1,2\n3,4\n")
    cur.write_text("a,c\n1,2\n3,4\n")
    got, rc = drift(str(ref), str(cur), rc=1)
    assert got["dataset"]["missing_columns"] == ["b"] and got["dataset"]["extra_columns"] == ["c"]
    assert got["columns"]["b"]["drifted"] is True


@pytest.mark.parametrize("args,needle", [
    (["--reference", "/nonexistent.csv", "--current", "/nonexistent.csv"], "cannot open"),
    (["--reference", "x.csv"], "required"),
    (["--reference", "a", "--current", "b", "--num-test", "bogus"], "unknown test"),
    (["--reference", "a", "--current", "b", "--drift-share", "2"], "drift-share"),
])
def test_usage_and_input_errors(args, needle):
    p = subprocess.run([CAIRN, "drift", *args], capture_output=True, text=True)
    assert p.returncode == 2
    assert needle in p.stderr, p.stderr


def test_bad_tables(tmp_path):
    good = tmp_path / "g.csv"
    good.write_text("a,b\n1,2\n")
    for content, needle in [(b"", "empty"), (b"a,b\n1\n", "line 2 has 1 fields"), (b"a,b\n\xff,1\n", "UTF-8")]:
        bad = tmp_path / "b.csv"
        bad.write_bytes(content)
        p = subprocess.run([CAIRN, "drift", "--reference", str(good), "--current", str(bad)],
                           capture_output=True, text=True)
        assert p.returncode == 2 and needle in p.stderr and p.stderr.startswith("cairn drift: current:"), p.stderr
