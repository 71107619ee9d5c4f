#!/usr/bin/env python3
"""Score how cairn reads real public DVC projects against DVC 3's reading.

For each project under tests/dvc_corpus/projects/ this makes what a fresh
`git clone` of it holds before `dvc pull`: its dvc.yaml files, params/vars
files and .dvc pointer files byte for byte (files/), and an empty placeholder
for every other git-tracked path the pipelines name (tree.txt).  Data that DVC
tracks is absent.  It runs `cairn dag --json` there and compares the stages
with expected.json, which oracle.py computed as DVC 3 would.

    python3 tests/dvc_corpus/run.py [--cairn BIN] [--floor N] [--only SLUG] [-v]

Prints one line per project that is not read as DVC reads it, then
`dvc corpus: K of N projects read as DVC reads them (F files)`; exits 1 when
K < --floor.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECTS = os.path.join(HERE, "projects")
REPO = os.path.dirname(os.path.dirname(HERE))


def materialise(proj, dest):
    files = os.path.join(proj, "files")
    have = set()
    for dp, _, fns in os.walk(files):
        for fn in fns:
            src = os.path.join(dp, fn)
            rel = os.path.relpath(src, files)
            have.add(rel.replace(os.sep, "/"))
            dst = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
    with open(os.path.join(proj, "tree.txt"), encoding="utf-8") as fh:
        for line in fh:
            rel = line.rstrip("\n")
            if not rel or rel in have:
                continue
            dst = os.path.join(dest, rel)
            if os.path.exists(dst):
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "wb").close()
    env = dict(os.environ, GIT_AUTHOR_NAME="corpus", GIT_AUTHOR_EMAIL="corpus@invalid",
               GIT_COMMITTER_NAME="corpus", GIT_COMMITTER_EMAIL="corpus@invalid")
    for args in (["init", "-q"], ["add", "-A", "-f"], ["commit", "-q", "-m", "corpus", "--no-gpg-sign"]):
        subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=dest, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def count_files(proj):
    n = 0
    for dp, _, fns in os.walk(os.path.join(proj, "files")):
        n += sum(1 for f in fns if f == "dvc.yaml")
    return n


def _out(o):
    # an output is {"path", "kind", "cache"}; a bare string (older cairn) has no kind or cache
    if isinstance(o, dict):
        return (str(o.get("path")), str(o.get("kind")), bool(o.get("cache")))
    return (str(o), "?", "?")


def _param(p):
    if isinstance(p, (list, tuple)) and len(p) == 2:
        return (str(p[0]), None if p[1] is None else str(p[1]))
    return (str(p), "?")


def norm_stage(s):
    return {
        "cmd": s.get("cmd"),
        "deps": sorted(str(d.get("path") if isinstance(d, dict) else d) for d in s.get("deps") or []),
        "outs": sorted(_out(o) for o in (s.get("outputs") or s.get("outs") or [])),
        "params": sorted({_param(p) for p in s.get("params") or []},
                         key=lambda t: (t[0], t[1] or "")),
        "after": sorted({str(a) for a in s.get("after") or []}),
    }


def compare(expected, got, rc, stderr):
    """A list of differences (empty when cairn reads the project as DVC does)."""
    if not expected.get("ok", True):
        if rc == 0:
            return [f"DVC refuses this project ({expected.get('error')}); cairn exited 0"]
        return []
    if rc != 0:
        return [f"cairn exited {rc}: {stderr.strip().splitlines()[-1] if stderr.strip() else ''}"]
    if got is None:
        return ["cairn's output is not JSON"]
    diffs = []
    exp = {s["name"]: norm_stage(s) for s in expected["stages"]}
    try:
        have = {s.get("name"): norm_stage(s) for s in got.get("stages") or []}
    except (AttributeError, TypeError) as exc:
        return [f"cairn's output has an unexpected shape ({exc})"]
    missing = sorted(set(exp) - set(have))
    extra = sorted(set(have) - set(exp))
    if missing:
        diffs.append(f"missing stages: {', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else ""))
    if extra:
        diffs.append(f"unexpected stages: {', '.join(extra[:8])}" + (" ..." if len(extra) > 8 else ""))
    for name in sorted(set(exp) & set(have)):
        e, h = exp[name], have[name]
        for field in ("cmd", "deps", "outs", "params", "after"):
            if e[field] != h[field]:
                diffs.append(f"{name}: {field} {json.dumps(h[field])} != expected {json.dumps(e[field])}")
    return diffs


def main(argv):
    ap = argparse.ArgumentParser(description="score cairn's reading of real dvc.yaml projects")
    ap.add_argument("--cairn", default=os.environ.get("CAIRN", os.path.join(REPO, "build", "cairn")))
    ap.add_argument("--floor", type=int, default=0)
    ap.add_argument("--only", action="append", help="a project slug (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args(argv)

    cairn = os.path.abspath(a.cairn)
    slugs = sorted(d for d in os.listdir(PROJECTS) if os.path.isdir(os.path.join(PROJECTS, d)))
    if a.only:
        unknown = sorted(set(a.only) - set(slugs))
        if unknown:
            print(f"no such project: {', '.join(unknown)}", file=sys.stderr)
            return 2
        slugs = [s for s in slugs if s in a.only]
    good = files = 0
    for slug in slugs:
        proj = os.path.join(PROJECTS, slug)
        files += count_files(proj)
        with open(os.path.join(proj, "expected.json"), encoding="utf-8") as fh:
            expected = json.load(fh)
        tmp = tempfile.mkdtemp(prefix="dvc-corpus-")
        try:
            materialise(proj, tmp)
            env = dict(os.environ, CAIRN_NO_TRACK="1")
            try:
                p = subprocess.run([cairn, "dag", "--json"], cwd=tmp, env=env,
                                   capture_output=True, timeout=a.timeout)
                rc, out, err = p.returncode, p.stdout.decode("utf-8", "replace"), \
                    p.stderr.decode("utf-8", "replace")
            except FileNotFoundError:
                rc, out, err = 127, "", f"{cairn}: not found"
            except subprocess.TimeoutExpired:
                rc, out, err = 124, "", f"timed out after {a.timeout:g}s"
            try:
                got = json.loads(out) if rc == 0 else None
            except ValueError:
                got = None
            diffs = compare(expected, got, rc, err)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if diffs:
            shown = diffs if a.verbose else diffs[:3]
            more = "" if a.verbose or len(diffs) <= 3 else f" (+{len(diffs) - 3} more)"
            print(f"{slug}: " + "; ".join(shown) + more)
        else:
            good += 1
            if a.verbose:
                print(f"{slug}: ok")
    print(f"dvc corpus: {good} of {len(slugs)} projects read as DVC reads them ({files} files)")
    return 1 if good < a.floor else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
