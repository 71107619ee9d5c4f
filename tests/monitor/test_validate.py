"""Black-box tests of `cairn validate`: suites on the anchor fixtures, exit codes, the table and the
JSON result, --suggest, suite errors, bad tables, and a validation stage stopping a real pipeline."""

import json
import os
import shutil
import textwrap

import pytest
import yaml

from conftest import cairn_bin


def write(path, text):
    os.makedirs(os.path.dirname(str(path)) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))


SUITE = """\
name: inputs
expectations:
  - type: not_null
    column: f_uniform
    mostly: 0.9
  - {type: between, column: f_uniform, min_value: -50, max_value: 50}
  - {type: in_set, column: c_color, value_set: [black, blue, green, red, white]}
  - {type: row_count_between, min_value: 5000, max_value: 20000}
  - {type: mean_between, column: f_normal, min_value: -0.1, max_value: 0.1}
  - {type: match_regex, column: c_product, regex: '^SKU-[0-9]{4}$'}
"""


@pytest.fixture
def suite(tmp_path):
    p = tmp_path / "suite.yaml"
    write(p, SUITE)
    return p


def test_passes_on_reference_fails_on_nulls(cairn, fixtures, suite, tmp_path):
    ref = os.path.join(fixtures, "10k", "reference.csv")
    cur = os.path.join(fixtures, "10k", "current_d_nulls.csv")
    r = cairn("validate", ref, "--suite", suite)
    assert r.rc == 0, r
    assert r.out.count("PASS  ") == 6 and "PASSED: 6 of 6" in r.out
    r = cairn("validate", cur, "--suite", suite)
    assert r.rc == 1, r
    fail = [l for l in r.out.splitlines() if l.startswith("FAIL  ")]
    assert len(fail) == 1 and "not_null(f_uniform) mostly 0.9" in fail[0], r.out
    assert "unexpected: line " in fail[0] and "null" in fail[0]
    assert "FAILED: 5 of 6" in r.out
    # the same as JSON, shaped like GX's ExpectationSuiteValidationResult
    r = cairn("validate", cur, "--suite", suite, "--json")
    assert r.rc == 1
    res = json.loads(r.out)
    assert res["success"] is False and res["suite_name"] == "inputs"
    assert res["statistics"] == {"evaluated_expectations": 6, "successful_expectations": 5,
                                 "unsuccessful_expectations": 1, "success_percent": pytest.approx(500 / 6)}
    first = res["results"][0]
    assert first["expectation_config"] == {"type": "expect_column_values_to_not_be_null",
                                           "kwargs": {"column": "f_uniform", "mostly": 0.9}}
    out = first["result"]
    assert out["element_count"] == 10000 and out["unexpected_count"] == out["missing_count"]
    assert 15 < out["unexpected_percent"] < 25
    assert len(out["partial_unexpected_list"]) == 20 and set(out["partial_unexpected_list"]) == {None}
    # index from 0 (pandas'), line from 1 with the header on line 1
    assert [i + 2 for i in out["partial_unexpected_index_list"]] == out["partial_unexpected_line_list"]
    with open(cur) as f:
        lines = f.read().split("\n")
    col = lines[0].split(",").index("f_uniform")
    for ln in out["partial_unexpected_line_list"]:
        assert lines[ln - 1].split(",")[col] == ""
    mean = res["results"][4]["result"]["observed_value"]
    assert isinstance(mean, float) and abs(mean) < 0.1


def test_output_file_quiet_and_stdin(cairn, fixtures, suite, tmp_path):
    cur = os.path.join(fixtures, "10k", "current_d_nulls.csv")
    out = tmp_path / "res.json"
    r = cairn("validate", cur, "--suite", suite, "-o", out, "-q")
    assert r.rc == 1 and r.out == "" and r.err == "", r
    assert json.loads(out.read_text())["statistics"]["unsuccessful_expectations"] == 1
    with open(os.path.join(fixtures, "10k", "reference.csv")) as f:
        r = cairn("validate", "-", "--suite", suite, "--json", input=f.read())
    assert r.rc == 0 and json.loads(r.out)["success"] is True, r


def test_suggest_passes_on_its_own_data(cairn, fixtures, tmp_path):
    for name in ("reference.csv", "current_b_meanshift.csv", "current_d_nulls.csv"):
        data = os.path.join(fixtures, "10k", name)
        r = cairn("validate", "--suggest", data)
        assert r.rc == 0, r
        doc = yaml.safe_load(r.out)   # PyYAML reads the YAML the same way
        types = [e["type"] for e in doc["expectations"]]
        assert types[:2] == ["row_count_between", "columns_equal_set"]
        assert {"not_null", "type", "between", "in_set"} <= set(types)
        p = tmp_path / f"suggested-{name}.yaml"
        p.write_text(r.out)
        r = cairn("validate", data, "--suite", p)
        assert r.rc == 0, r
    # the nulls fixture's f_uniform has nulls: no not_null for it, and reference fails its between
    doc = yaml.safe_load(p.read_text())
    assert not any(e["type"] == "not_null" and e["column"] == "f_uniform" for e in doc["expectations"])
    rowcount = doc["expectations"][0]
    assert (rowcount["min_value"], rowcount["max_value"]) == (5000, 15000)
    # --json and -o
    out = tmp_path / "s.json"
    r = cairn("validate", "--suggest", os.path.join(fixtures, "10k", "reference.csv"), "--json", "-o", out,
              "--name", "ref")
    assert r.rc == 0 and json.loads(out.read_text())["name"] == "ref"


def test_suite_drafted_from_reference_catches_drift(cairn, fixtures, tmp_path):
    r = cairn("validate", "--suggest", os.path.join(fixtures, "10k", "reference.csv"), "-o", tmp_path / "s.yaml")
    assert r.rc == 0, r
    r = cairn("validate", os.path.join(fixtures, "10k", "current_d_nulls.csv"), "--suite", tmp_path / "s.yaml")
    assert r.rc == 1 and "FAIL  not_null(f_uniform)" in r.out, r


def test_gx_suite_json(cairn, fixtures, tmp_path):
    # a suite as GX 1.x writes it, and GX 0.x's spelling
    suite = {"name": "gx", "meta": {"great_expectations_version": "1.3.0"}, "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "f_uniform", "mostly": 0.9},
         "meta": {}, "id": "a1"},
        {"expectation_type": "expect_column_values_to_be_between",
         "kwargs": {"column": "i_age", "min_value": 18, "max_value": 90, "result_format": "SUMMARY"}},
        {"type": "expect_column_quantile_values_to_be_between",
         "kwargs": {"column": "f_normal", "quantile_ranges": {"quantiles": [0.05, 0.5, 0.95],
                                                               "value_ranges": [[-2, -1], [-0.1, 0.1], [1, 2]]},
                    "allow_relative_error": False}},
        {"type": "expect_table_columns_to_match_ordered_list",
         "kwargs": {"column_list": ["f_normal", "f_wide"]}},
    ]}
    p = tmp_path / "gx.json"
    p.write_text(json.dumps(suite, indent="\t"))
    r = cairn("validate", os.path.join(fixtures, "10k", "reference.csv"), "--suite", p, "--json")
    assert r.rc == 1, r
    res = json.loads(r.out)
    assert [x["success"] for x in res["results"]] == [True, True, True, False]
    q = res["results"][2]["result"]["observed_value"]
    assert q["quantiles"] == [0.05, 0.5, 0.95] and len(q["values"]) == 3
    mism = res["results"][3]["result"]["details"]["mismatched"]
    assert len(mism) == 18 and mism[0] == {"expected_column_position": 2, "expected": None, "found": "f_uniform"}
    r = cairn("validate", os.path.join(fixtures, "10k", "reference.csv"), "--suite", p)
    line = [l for l in r.out.splitlines() if "columns_match_ordered_list" in l][0]
    assert line.startswith("FAIL") and '18 mismatched, first at position 2: expected null, found "f_uniform"' in line, r


@pytest.mark.parametrize("text,msg", [
    ("expectations:\n  - {type: nope, column: a}\n", "s.yaml:2: expectation 1 (nope): unknown expectation type 'nope'"),
    ("expectations:\n  - type: not_null\n    column: a\n  - type: unique\n    colunm: a\n",
     "s.yaml:5: expectation 2 (unique): unknown key 'colunm'"),
    ("expectations:\n  - type: between\n    min_value: 1\n", "s.yaml:2: expectation 1 (between): column is required"),
    ("expectations:\n  - type: between\n    column: a\n    min_value: 9\n    max_value: 1\n",
     "s.yaml:4: expectation 1 (between): min_value (9) is greater than max_value (1)"),
    ("expectations:\n  - {type: match_regex, column: a, regex: '(['}\n",
     "s.yaml:2: expectation 1 (match_regex): regex '([' is not a POSIX extended regular expression"),
    ("expectations:\n  - type: mean_between\n    column: a\n    min_value: 0\n    mostly: 0.9\n",
     "s.yaml:5: expectation 1 (mean_between): mostly applies to row-wise expectations only"),
    ("expectations: [\n", "s.yaml: line"),
    ("name: x\n", "expectations (a list) is required"),
])
def test_suite_errors_exit_2_and_evaluate_nothing(cairn, fixtures, tmp_path, text, msg):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    r = cairn("validate", os.path.join(fixtures, "10k", "reference.csv"), "--suite", p, "-o", tmp_path / "r.json")
    assert r.rc == 2 and msg in r.err and r.out == "", r
    assert not (tmp_path / "r.json").exists()


def test_bad_tables(cairn, tmp_path):
    s = tmp_path / "s.yaml"
    s.write_text("expectations:\n  - {type: not_null, column: a}\n  - {type: mean_between, column: b, min_value: 0}\n"
                 "  - {type: between, column: a, min_value: 0, max_value: 10}\n")
    cases = {
        "ragged.csv": (b"a,b\n1,2\n3\n", 2, "line 3 has 1 fields, the header has 2"),
        "latin1.csv": (b"a,b\n1,caf\xe9\n", 2, "not valid UTF-8"),
        "empty.csv": (b"", 2, "is empty: a header row is expected"),
        "quote.csv": (b'a,b\n"1,2\n', 2, "CSV record 2"),
    }
    for name, (data, rc, msg) in cases.items():
        (tmp_path / name).write_bytes(data)
        r = cairn("validate", tmp_path / name, "--suite", s)
        assert r.rc == rc and msg in r.err, (name, r)
    # a header alone: nothing to observe for the mean
    (tmp_path / "hdr.csv").write_text("a,b\n")
    r = cairn("validate", tmp_path / "hdr.csv", "--suite", s, "--json")
    assert r.rc == 1
    assert [x["success"] for x in json.loads(r.out)["results"]] == [True, False, True]
    # NaN and inf: outside every range, skipped by aggregates
    (tmp_path / "nan.csv").write_text("a,b\n1,1\nnan,2\ninf,3\n2,NaN\n")
    r = cairn("validate", tmp_path / "nan.csv", "--suite", s, "--json")
    res = json.loads(r.out)["results"]
    assert r.rc == 1 and res[1]["success"] and res[1]["result"]["observed_value"] == 2.0
    assert res[2]["result"]["unexpected_count"] == 2
    assert res[2]["result"]["partial_unexpected_list"] == ["NaN", "Infinity"]
    # a column the data lacks fails its expectation, with a message
    (tmp_path / "nob.csv").write_text("a\n1\n")
    r = cairn("validate", tmp_path / "nob.csv", "--suite", s)
    assert r.rc == 1 and "FAIL  mean_between(b) [0, inf]" in r.out and "column 'b' is not in the data" in r.out, r


def test_usage(cairn, tmp_path):
    r = cairn("validate", "--help")
    assert r.rc == 0 and "--suite" in r.out and "--suggest" in r.out
    assert cairn("validate", "x.csv").rc == 2
    assert cairn("validate").rc == 2
    assert cairn("validate", "x.csv", "--bogus").rc == 2
    r = cairn("validate", tmp_path / "none.csv", "--suite", tmp_path / "none.yaml")
    assert r.rc == 2 and "none.yaml" in r.err
    (tmp_path / "s.yaml").write_text("expectations: []\n")
    r = cairn("validate", tmp_path / "none.csv", "--suite", tmp_path / "s.yaml")
    assert r.rc == 2 and "none.csv" in r.err
    assert "validate" in cairn("--help").out


# ---- a validation stage in a real pipeline (dvc.yaml, cairn repro) ----

PIPE = """\
stages:
  validate:
    cmd: {cairn} validate data/today.csv --suite expectations.yaml -o validation.json
    deps: [data/today.csv, expectations.yaml]
    outs:
      - validation.json: {{cache: false}}
  train:
    cmd: echo trained > model.txt
    deps: [validation.json]
    outs: [model.txt]
  other:
    cmd: echo independent > other.txt
    outs: [other.txt]
"""


def pipeline(tmp_path, fixtures, data_name):
    p = tmp_path / "proj"
    p.mkdir()
    (p / "data").mkdir()
    shutil.copy(os.path.join(fixtures, "10k", data_name), p / "data" / "today.csv")
    write(p / "expectations.yaml", SUITE)
    write(p / "dvc.yaml", PIPE.format(cairn=cairn_bin()))
    return p


def test_failing_validation_stage_stops_its_dependants(cairn, fixtures, tmp_path):
    p = pipeline(tmp_path, fixtures, "current_d_nulls.csv")
    r = cairn("repro", "-q", "--json", cwd=p)
    assert r.rc == 1, r
    stages = {s["name"]: s["result"] for s in json.loads(r.out)["stages"]}
    assert stages == {"validate": "failed", "train": "skipped", "other": "ran"}, r.out
    assert not (p / "model.txt").exists() and (p / "other.txt").exists()
    assert "FAIL  not_null(f_uniform)" in (p / ".cairn/tmp/logs/validate.log").read_text()


def test_passing_validation_stage_lets_the_pipeline_run(cairn, fixtures, tmp_path):
    p = pipeline(tmp_path, fixtures, "reference.csv")
    r = cairn("repro", "-q", "--json", cwd=p)
    assert r.rc == 0, r
    stages = {s["name"]: s["result"] for s in json.loads(r.out)["stages"]}
    assert stages == {"validate": "ran", "train": "ran", "other": "ran"}, r.out
    assert (p / "model.txt").read_text() == "trained\n"
    assert json.loads((p / "validation.json").read_text())["success"] is True
    # then the data goes bad: the stage reruns, fails, and train keeps its last good model
    shutil.copy(os.path.join(fixtures, "10k", "current_d_nulls.csv"), p / "data" / "today.csv")
    r = cairn("repro", "-q", "--json", cwd=p)
    assert r.rc == 1, r
    stages = {s["name"]: s["result"] for s in json.loads(r.out)["stages"]}
    assert stages["validate"] == "failed" and stages["train"] == "skipped", r.out
