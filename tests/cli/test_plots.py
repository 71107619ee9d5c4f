"""Black-box tests of `cairn plots show` on a DVC-style project: stage plot outs and the
top-level plots: section with every template, dvclive's files, the self-contained HTML page
(one SVG per plot, its points, cells and bars, escaped labels, no network), --json, -o, targets,
and every bad input (an error naming the file, exit 1, nothing written)."""

import base64
import json
import os
import re
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser

import pytest

from conftest import run_cli

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

DVC_YAML = """\
stages:
  train:
    cmd: echo train
    plots:
      - dvclive/plots/metrics:
          x: step
      - predictions.csv:
          template: confusion
          x: actual
          y: predicted
          title: "Confusion <script>alert(1)</script>"
plots:
  - importance.json:
      template: bar_horizontal_sorted
      x: importance
      y: feature
  - counts.csv:
      template: bar_horizontal
      x: n
      y: label
  - predictions.csv:
      template: confusion_normalized
      x: actual
      y: predicted
  - loss_acc:
      template: simple
      x: step
      y:
        dvclive/plots/metrics/train/loss.tsv: loss
        dvclive/plots/metrics/eval/loss.tsv: loss
  - scores.csv:
      template: scatter
      x: score
      y: label_score
  - noisy.csv:
      template: smooth
  - jitter.csv:
      template: scatter_jitter
      x: a
      y: b
  - roc.png
"""


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(str(path)) or ".", exist_ok=True)
    with open(path, mode) as f:
        f.write(text if mode == "wb" else textwrap.dedent(text))


def dvclive_tsv(field, values):
    rows = "".join(f"{1700000000 + i}\t{i}\t{v}\n" for i, v in enumerate(values))
    return f"timestamp\tstep\t{field}\n" + rows


@pytest.fixture
def proj(tmp_path):
    p = tmp_path / "proj"
    p.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=p, check=True)
    write(p / "dvc.yaml", DVC_YAML)
    write(p / "dvclive/plots/metrics/train/loss.tsv", dvclive_tsv("loss", [0.9, 0.6, 0.4, 0.3, 0.25]))
    write(p / "dvclive/plots/metrics/eval/loss.tsv", dvclive_tsv("loss", [1.0, 0.7, 0.5, 0.45, 0.44]))
    write(p / "dvclive/plots/metrics/train/acc.tsv", dvclive_tsv("acc", [0.5, 0.7, 0.8, 0.85, 0.9]))
    # 3 classes actual x 3 predicted, 10 rows
    pairs = [("cat", "cat")] * 3 + [("cat", "dog"), ("dog", "dog"), ("dog", "dog"), ("bird", "cat"),
                                    ("bird", "bird"), ("dog", "bird"), ("cat", "cat")]
    write(p / "predictions.csv", "actual,predicted\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    write(p / "importance.json", json.dumps([{"feature": "age", "importance": 0.2},
                                             {"feature": "<b>income</b>", "importance": 0.5},
                                             {"feature": "zip", "importance": 0.1}]))
    write(p / "counts.csv", "label,n\nb,3\na,5\n")
    write(p / "scores.csv", "score,label_score\n" + "".join(f"{i / 10},{(i * 7) % 10 / 10}\n" for i in range(12)))
    write(p / "noisy.csv", "v\n" + "".join(f"{(i % 5) + i / 3}\n" for i in range(40)))
    write(p / "jitter.csv", "a,b\n1,1\n1,1\n2,2\n")
    write(p / "roc.png", PNG, "wb")
    return p


def cli(cwd, *args, ok=True):
    r = run_cli(["plots", *args], cwd=cwd)
    if ok:
        assert r.rc == 0, r
    return r


class Page(HTMLParser):
    """The SVGs of the page with what is inside each."""

    def __init__(self):
        super().__init__()
        self.svgs, self.imgs, self.srcs, self.cur, self.text = [], [], [], None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if k in a:
                self.srcs.append(a[k])
        if tag == "svg":
            self.cur = {"attrs": a, "tags": [], "text": []}
            self.svgs.append(self.cur)
        elif tag == "img":
            self.imgs.append(a)
        elif self.cur is not None:
            self.cur["tags"].append((tag, a))

    def handle_endtag(self, tag):
        if tag == "svg":
            self.cur = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cur is not None:
            self.cur["text"].append(data)


def page(path):
    p = Page()
    p.feed(open(path).read())
    return p


def by_title(pg, title):
    return [s for s in pg.svgs if s["attrs"].get("aria-label") == title]


def count(svg, tag, cls):
    return sum(1 for t, a in svg["tags"] if t == tag and cls in a.get("class", "").split())


def test_show_draws_every_plot_self_contained(proj):
    r = cli(proj, "show")
    out = proj / "dvc_plots" / "index.html"
    assert r.out.strip() == "file://" + str(out.resolve())
    html = out.read_text()
    pg = page(out)
    # 3 dvclive files + predictions (stage) + 7 top-level data plots; the png as an image
    assert len(pg.svgs) == 11, [s["attrs"].get("aria-label") for s in pg.svgs]
    assert len(pg.imgs) == 1 and pg.imgs[0]["src"].startswith("data:image/png;base64,")
    # nothing fetched: no URL anywhere, no script
    assert not re.search(r"https?://", html)
    assert all(s.startswith("data:") for s in pg.srcs)
    assert "<script" not in html
    templates = sorted(s["attrs"]["data-template"] for s in pg.svgs)
    assert templates == sorted(["linear"] * 3 + ["confusion", "bar_horizontal_sorted", "bar_horizontal",
                                                 "confusion_normalized", "simple", "scatter", "smooth",
                                                 "scatter_jitter"])

    # dvclive's loss: a line of 5 points, x the step column, marked points
    (loss,) = by_title(pg, "dvclive/plots/metrics/train/loss.tsv")
    (series,) = [a for t, a in loss["tags"] if t == "g" and a.get("class") == "series"]
    assert series["data-points"] == "5"
    (line,) = [a for t, a in loss["tags"] if t == "polyline"]
    assert len(line["points"].split()) == 5
    assert count(loss, "circle", "pt") == 5
    assert "step" in loss["text"] and "loss" in loss["text"]

    # the stage's confusion matrix (its own id) and the top-level normalized one (dvc.yaml::)
    (conf,) = by_title(pg, "Confusion <script>alert(1)</script>")
    assert "Confusion &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert count(conf, "rect", "cell") == 9
    cells = {a["data-value"] for t, a in conf["tags"] if t == "rect" and a.get("class") == "cell"}
    assert "4" in cells  # cat predicted as cat 4 times
    (norm,) = by_title(pg, "dvc.yaml::predictions.csv")
    assert count(norm, "rect", "cell") == 9
    # the row of predicted "cat" holds 5 points: 4 cats, 1 bird
    assert {"0.8", "0.2"} <= {a["data-value"] for t, a in norm["tags"] if t == "rect" and a.get("class") == "cell"}

    # bars: sorted by length, labels escaped
    (imp,) = by_title(pg, "importance.json")
    bars = [a for t, a in imp["tags"] if t == "rect" and a.get("class") == "bar"]
    assert [b["data-value"] for b in bars] == ["0.5", "0.2", "0.1"]
    assert "<b>income</b>" in imp["text"] and "&lt;b&gt;income&lt;/b&gt;" in html
    (cnt,) = by_title(pg, "counts.csv")
    assert [a["data-value"] for t, a in cnt["tags"] if t == "rect" and a.get("class") == "bar"] == ["5", "3"]

    # two files overlaid: two series and a legend naming them without their common folder
    (both,) = by_title(pg, "loss_acc")
    assert both["attrs"]["data-series"] == "2"
    assert count(both, "g", "legend") == 1
    assert "train/loss.tsv" in both["text"] and "eval/loss.tsv" in both["text"]

    (sc,) = by_title(pg, "scores.csv")
    assert count(sc, "circle", "pt") == 12
    (sm,) = by_title(pg, "noisy.csv")
    assert count(sm, "polyline", "smooth") == 1
    (ji,) = by_title(pg, "jitter.csv")
    assert count(ji, "circle", "pt") == 3


def test_chromium_parses_the_page(proj):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no chromium")
    cli(proj, "show")
    out = proj / "dvc_plots" / "index.html"
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", out.resolve().as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    dom = r.stdout
    assert dom.count("<svg") == 11
    assert dom.count('class="cell"') == 18
    assert "<script>alert" not in dom


def test_json_output(proj):
    r = cli(proj, "show", "--json")
    d = json.loads(r.out)["data"]
    assert list(d)[:3] == ["importance.json", "counts.csv", "dvc.yaml::predictions.csv"]
    assert "predictions.csv" in d and "dvclive/plots/metrics/train/loss.tsv" in d
    e = d["loss_acc"][0]
    assert e["type"] == "vega" and e["revisions"] == ["workspace"]
    c = e["content"]
    assert (c["template"], c["x"], c["y"], c["x_label"], c["y_label"]) == ("simple", "step", "loss", "step", "loss")
    assert c["anchors_y_definitions"] == [{"filename": "train/loss.tsv", "field": "loss"},
                                          {"filename": "eval/loss.tsv", "field": "loss"}]
    assert len(c["data"]["values"]) == 10
    assert c["data"]["values"][0]["rev"] == "workspace"
    img = d["roc.png"][0]
    assert img == {"type": "image", "revisions": ["workspace"], "url": "roc.png"}
    assert not (proj / "dvc_plots").exists()


def test_out_targets_and_options(proj):
    cli(proj, "show", "-o", "report")
    assert (proj / "report" / "index.html").exists()
    cli(proj, "show", "--out", "site/plots.html", "importance.json")
    pg = page(proj / "site" / "plots.html")
    assert len(pg.svgs) == 1
    # regular expressions matched at the start of the id; options override the definitions
    r = cli(proj, "show", "--json", "sc", "loss_", "-t", "scatter", "--title", "T")
    d = json.loads(r.out)["data"]
    assert sorted(d) == ["loss_acc", "scores.csv"]
    assert {e[0]["content"]["template"] for e in d.values()} == {"scatter"}
    assert {e[0]["content"]["title"] for e in d.values()} == {"T"}
    # a file no definition names
    write(proj / "extra.csv", "a,b\n1,2\n2,3\n")
    r = cli(proj, "show", "--json", "extra.csv", "-y", "a", "--x-label", "X")
    c = json.loads(r.out)["data"]["extra.csv"][0]["content"]
    assert (c["y"], c["x_label"]) == ("a", "X")
    # from a subfolder, targets are relative to it
    os.makedirs(proj / "sub")
    r = cli(proj / "sub", "show", "--json", "../extra.csv")
    assert list(json.loads(r.out)["data"]) == ["extra.csv"]
    r = cli(proj, "templates")
    assert r.out.split() == ["simple", "linear", "confusion", "confusion_normalized", "scatter", "scatter_jitter",
                             "smooth", "bar_horizontal_sorted", "bar_horizontal"]


def test_folder_targets_follow_dvc(proj):
    # a plot folder is matched by its own path, as DVC's targets
    r = cli(proj, "show", "--json", "dvclive/plots/metrics")
    assert sorted(json.loads(r.out)["data"]) == ["dvclive/plots/metrics/eval/loss.tsv",
                                                 "dvclive/plots/metrics/train/acc.tsv",
                                                 "dvclive/plots/metrics/train/loss.tsv"]


@pytest.mark.parametrize("setup,msg", [
    (lambda p: os.remove(p / "counts.csv"), "counts.csv: no such file"),
    (lambda p: write(p / "counts.csv", ""), "counts.csv: the file is empty"),
    (lambda p: write(p / "importance.json", '[{"feature": "a",'), "importance.json: not JSON: "),
    (lambda p: write(p / "counts.csv", "label,count\na,1\n"), "counts.csv: no field 'n' (its fields: label, count)"),
    (lambda p: write(p / "scores.csv", "score,label_score\n1,high\n"),
     "scores.csv: row 1: field 'label_score' is 'high', not a number (template scatter)"),
    (lambda p: write(p / "counts.csv", "label,n\na,1,2\n"), "counts.csv: line 2: 3 fields, the header has 2"),
    (lambda p: write(p / "dvc.yaml", DVC_YAML.replace("template: smooth", "template: pie")),
     "plot 'noisy.csv': unknown template 'pie' (known: simple, linear, confusion, confusion_normalized, scatter, "
     "scatter_jitter, smooth, bar_horizontal_sorted, bar_horizontal)"),
    (lambda p: write(p / "dvclive/plots/metrics/notes.txt", "hi\n"),
     "dvclive/plots/metrics/notes.txt: not a plot file"),
])
def test_bad_input_is_an_error_and_writes_nothing(proj, setup, msg):
    cli(proj, "show")
    out = proj / "dvc_plots" / "index.html"
    before = out.read_bytes()
    setup(proj)
    r = cli(proj, "show", ok=False)
    assert r.rc == 1, r
    assert r.err.startswith("cairn plots: " + msg), r.err
    assert out.read_bytes() == before
    assert sorted(os.listdir(proj / "dvc_plots")) == ["index.html"]
    r = cli(proj, "show", "-o", "fresh", ok=False)
    assert r.rc == 1 and not (proj / "fresh").exists()


def test_no_plots_and_usage(tmp_path):
    p = tmp_path / "p"
    p.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=p, check=True)
    write(p / "dvc.yaml", "stages:\n  a:\n    cmd: echo\n")
    r = cli(p, "show")
    assert "no plots were loaded" in r.err and not (p / "dvc_plots").exists()
    assert json.loads(cli(p, "show", "--json").out) == {"data": {}}
    r = cli(p, "show", "nothing.csv", ok=False)
    assert r.rc == 1 and "nothing.csv: no plot of that id and no such file" in r.err
    assert cli(p, "bogus", ok=False).rc == 2
    assert cli(p, "show", "--bogus", ok=False).rc == 2
    assert "usage: cairn plots show" in cli(p, "show", "--help").out
