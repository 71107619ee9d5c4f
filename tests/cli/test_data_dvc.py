"""Black-box tests of `cairn data import-dvc`: DVC projects built by hand in DVC's own formats.

Debian has no dvc package, so each test lays out a project the way DVC 3 (or
DVC 2, the legacy cache layout) leaves it: .dvc files beside the data, the
MD5-addressed cache under .dvc/cache, directory listings as ".dir" JSON
objects. run_cli fails the test on any sanitizer report in stderr.
"""

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import SANITIZER, run_cli


def md5(b):
    return hashlib.md5(b).hexdigest()


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def write(path, data, mode="wb"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class DvcProject:
    """A DVC project in root: v3 (cache/files/md5, `hash: md5`) or v2 (cache/ab/cdef, no hash key)."""

    def __init__(self, root, version=3):
        self.root = str(root)
        self.version = version
        subprocess.run(["git", "init", "-q", self.root], check=True)
        os.makedirs(os.path.join(self.root, ".dvc"))
        write(os.path.join(self.root, ".dvc", "config"), b"")
        write(os.path.join(self.root, ".dvc", ".gitignore"), b"/config.local\n/tmp\n/cache\n")

    def obj_path(self, digest, suffix=""):
        base = os.path.join(self.root, ".dvc", "cache")
        if self.version == 3:
            base = os.path.join(base, "files", "md5")
        return os.path.join(base, digest[:2], digest[2:] + suffix)

    def cache_put(self, data, suffix=""):
        d = md5(data)
        write(self.obj_path(d, suffix), data)
        return d

    def _dvcfile(self, dvcfile, out):
        lines = ["outs:"]
        first = True
        for k, v in out.items():
            lines.append(("- " if first else "  ") + f"{k}: {v}")
            first = False
        write(os.path.join(self.root, dvcfile), ("\n".join(lines) + "\n").encode())

    def add_file(self, rel, data, cache=True, extra=None):
        """`dvc add rel`: data in the workspace and the cache, rel.dvc beside it."""
        write(os.path.join(self.root, rel), data)
        d = self.cache_put(data) if cache else md5(data)
        out = {"md5": d, "size": len(data)}
        if self.version == 3:
            out["hash"] = "md5"
        out["path"] = os.path.basename(rel)
        out.update(extra or {})
        self._dvcfile(rel + ".dvc", out)
        return d

    def add_dir(self, rel, files, cache=True):
        """`dvc add rel` of a folder: files {relpath: bytes}."""
        entries = []
        for p, data in files.items():
            write(os.path.join(self.root, rel, p), data)
            d = self.cache_put(data) if cache else md5(data)
            entries.append({"md5": d, "relpath": p})
        entries.sort(key=lambda e: e["relpath"])
        listing = json.dumps(entries, sort_keys=True).encode()
        d = self.cache_put(listing, ".dir")
        out = {"md5": d + ".dir", "size": sum(len(b) for b in files.values()), "nfiles": len(files)}
        if self.version == 3:
            out["hash"] = "md5"
        out["path"] = os.path.basename(rel)
        self._dvcfile(rel + ".dvc", out)
        return d

    def cli(self, *argv):
        return run_cli(["data", *argv], cwd=self.root)

    def dvc_files(self):
        got = {}
        for dp, dns, fns in os.walk(self.root):
            dns[:] = [d for d in dns if d not in (".git", ".dvc", ".cairn")]
            for f in fns:
                if f.endswith(".dvc"):
                    got[os.path.join(dp, f)] = read(os.path.join(dp, f))
        return got


RAW = b"id,value\n1,0.5\n2,0.25\n"
IMAGES = {"a.png": b"\x89PNG fake a", "sub/b.png": b"\x89PNG fake b" * 1000, "c.txt": b"hello\n"}


def import_failing(proj):
    """import-dvc where something fails: exit 1 in text mode; the JSON report (returned) lists it."""
    r = proj.cli("import-dvc")
    assert r.rc == 1 and r.err.strip(), r
    r = proj.cli("import-dvc", "--json")
    rep = json.loads(r.out)
    assert rep["failed"], rep
    return rep


def status_entries(proj):
    r = proj.cli("status", "--no-remote", "--json")
    assert r.rc == 0, r
    return {e["path"]: e for e in json.loads(r.out)["entries"]}


def check_imported(proj):
    st = status_entries(proj)
    assert set(st) == {"data/raw.csv", "data/images"}, st
    for e in st.values():
        assert e["state"] == "ok" and not e.get("not_in_cache"), e
    ptr = read(os.path.join(proj.root, "data", "raw.csv.cairn")).decode()
    assert f"sha256: {sha256(RAW)}" in ptr, ptr
    assert "path: raw.csv" in ptr and "type: file" in ptr, ptr
    ptr = read(os.path.join(proj.root, "data", "images.cairn")).decode()
    assert "type: dir" in ptr and "nfiles: 3" in ptr, ptr


@pytest.mark.parametrize("version", [3, 2])
def test_import_dvc_project(tmp_path, version):
    proj = DvcProject(tmp_path, version)
    proj.add_file("data/raw.csv", RAW)
    proj.add_dir("data/images", IMAGES)
    before = proj.dvc_files()
    r = proj.cli("import-dvc", "--json")
    assert r.rc == 0, r
    rep = json.loads(r.out)
    assert rep["failed"] == [] and rep["dvc_files"] == 2, rep
    got = {e["path"]: e for e in rep["imported"]}
    assert got["data/raw.csv"]["sha256"] == sha256(RAW) and got["data/raw.csv"]["type"] == "file", rep
    assert got["data/raw.csv"]["pointer"] == "data/raw.csv.cairn", rep
    assert got["data/images"]["type"] == "dir" and got["data/images"]["nfiles"] == 3, rep
    check_imported(proj)
    # the .dvc files are left exactly as they were
    assert proj.dvc_files() == before
    # and the text output names what was imported
    r = proj.cli("import-dvc")
    assert r.rc == 0 and "imported data/raw.csv -> data/raw.csv.cairn" in r.out, r
    assert proj.dvc_files() == before


def test_import_dvc_then_checkout_restores(tmp_path):
    proj = DvcProject(tmp_path)
    proj.add_file("data/raw.csv", RAW)
    proj.add_dir("data/images", IMAGES)
    r = proj.cli("import-dvc")
    assert r.rc == 0, r
    # DVC's cache goes away; cairn's own cache must hold everything
    shutil.rmtree(os.path.join(proj.root, ".dvc", "cache"))
    os.remove(os.path.join(proj.root, "data", "raw.csv"))
    shutil.rmtree(os.path.join(proj.root, "data", "images"))
    r = proj.cli("checkout")
    assert r.rc == 0, r
    assert read(os.path.join(proj.root, "data", "raw.csv")) == RAW
    for p, data in IMAGES.items():
        assert read(os.path.join(proj.root, "data", "images", p)) == data, p
    check_imported(proj)


def test_import_dvc_without_workspace_data(tmp_path):
    """Only the cache is needed: a clone after `dvc pull` into the cache but before checkout."""
    proj = DvcProject(tmp_path)
    proj.add_file("raw.csv", RAW)
    os.remove(os.path.join(proj.root, "raw.csv"))
    r = proj.cli("import-dvc")
    assert r.rc == 0, r
    r = proj.cli("checkout")
    assert r.rc == 0, r
    assert read(os.path.join(proj.root, "raw.csv")) == RAW
    gi = read(os.path.join(proj.root, ".gitignore")).decode()
    assert "/raw.csv" in gi.splitlines(), gi


def test_import_dvc_corrupt_object(tmp_path):
    proj = DvcProject(tmp_path)
    proj.add_file("data/raw.csv", RAW)
    bad = proj.add_file("data/other.csv", b"other data\n")
    proj.add_dir("data/images", IMAGES)
    write(proj.obj_path(bad), b"tampered\n")
    r = proj.cli("import-dvc")
    assert r.rc == 1, r
    assert f"DVC cache object {bad} is corrupt" in r.err and "data/other.csv" in r.err, r
    assert not os.path.exists(os.path.join(proj.root, "data", "other.csv.cairn"))
    # the good ones still came in
    assert os.path.exists(os.path.join(proj.root, "data", "raw.csv.cairn"))
    assert os.path.exists(os.path.join(proj.root, "data", "images.cairn"))
    r = proj.cli("fsck", "--json")
    assert r.rc == 0 and json.loads(r.out)["corrupt"] == [], r


def test_import_dvc_corrupt_dir_member(tmp_path):
    proj = DvcProject(tmp_path)
    proj.add_dir("data/images", IMAGES)
    write(proj.obj_path(md5(IMAGES["c.txt"])), b"changed\n")
    rep = import_failing(proj)
    assert rep["imported"] == [] and rep["failed"][0]["path"] == "data/images", rep
    assert "c.txt" in rep["failed"][0]["error"] and md5(IMAGES["c.txt"]) in rep["failed"][0]["error"], rep
    assert not os.path.exists(os.path.join(proj.root, "data", "images.cairn"))


def test_import_dvc_corrupt_dir_listing(tmp_path):
    proj = DvcProject(tmp_path)
    d = proj.add_dir("data/images", IMAGES)
    write(proj.obj_path(d, ".dir"), b"[]")
    r = proj.cli("import-dvc")
    assert r.rc == 1 and f"{d}.dir is corrupt" in r.err, r
    assert not os.path.exists(os.path.join(proj.root, "data", "images.cairn"))


def test_import_dvc_missing_object(tmp_path):
    proj = DvcProject(tmp_path)
    proj.add_file("data/raw.csv", RAW)
    gone = proj.add_file("data/gone.csv", b"never pulled\n", cache=False)
    r = proj.cli("import-dvc")
    assert r.rc == 1, r
    assert gone in r.err and "not in the DVC cache" in r.err and "dvc pull" in r.err, r
    assert not os.path.exists(os.path.join(proj.root, "data", "gone.csv.cairn"))
    assert os.path.exists(os.path.join(proj.root, "data", "raw.csv.cairn"))


def test_import_dvc_invalid_yaml(tmp_path):
    proj = DvcProject(tmp_path)
    proj.add_file("data/raw.csv", RAW)
    write(os.path.join(proj.root, "broken.dvc"), b"outs:\n- md5: [unclosed\n  path: x\n")
    before = proj.dvc_files()
    r = proj.cli("import-dvc")
    assert r.rc == 1, r
    assert "broken.dvc" in r.err and "line" in r.err, r
    assert os.path.exists(os.path.join(proj.root, "data", "raw.csv.cairn"))
    assert proj.dvc_files() == before


@pytest.mark.parametrize("path", ["../outside.csv", "/etc/passwd", "a/../../x"])
def test_import_dvc_path_escapes(tmp_path, path):
    proj = DvcProject(tmp_path)
    d = proj.cache_put(RAW)
    write(os.path.join(proj.root, "evil.dvc"),
          f"outs:\n- md5: {d}\n  size: {len(RAW)}\n  hash: md5\n  path: {path}\n".encode())
    rep = import_failing(proj)
    assert rep["imported"] == [] and rep["failed"][0]["path"] == "evil.dvc", rep
    assert not os.path.exists(os.path.join(os.path.dirname(proj.root), "outside.csv.cairn"))


def test_import_dvc_deps_and_desc(tmp_path):
    proj = DvcProject(tmp_path)
    proj.add_file("data/raw.csv", RAW, extra={"desc": "raw export"})
    d = proj.cache_put(b"imported\n")
    write(os.path.join(proj.root, "data", "ext.csv.dvc"),
          (f"md5: 0123456789abcdef0123456789abcdef\nfrozen: true\ndeps:\n- path: ext.csv\n"
           f"  repo:\n    url: https://example.com/repo\n    rev_lock: abc\n"
           f"outs:\n- md5: {d}\n  size: 9\n  hash: md5\n  path: ext.csv\n").encode())
    rep = import_failing(proj)
    assert [e["path"] for e in rep["imported"]] == ["data/raw.csv"], rep
    assert rep["failed"][0]["path"] == "data/ext.csv.dvc" and "deps" in rep["failed"][0]["error"], rep
    ptr = read(os.path.join(proj.root, "data", "raw.csv.cairn")).decode()
    assert "desc: raw export" in ptr, ptr


def test_import_dvc_several_outs_and_exec(tmp_path):
    proj = DvcProject(tmp_path)
    a, b = b"first\n", b"#!/bin/sh\necho hi\n"
    da, db = proj.cache_put(a), proj.cache_put(b)
    write(os.path.join(proj.root, "d", "a.txt"), a)
    write(os.path.join(proj.root, "d", "run.sh"), b)
    write(os.path.join(proj.root, "d", "pair.dvc"),
          (f"outs:\n- md5: {da}\n  size: {len(a)}\n  hash: md5\n  path: a.txt\n"
           f"- md5: {db}\n  size: {len(b)}\n  hash: md5\n  isexec: true\n  path: run.sh\n").encode())
    r = proj.cli("import-dvc", "--json")
    assert r.rc == 0, r
    rep = json.loads(r.out)
    assert sorted(e["path"] for e in rep["imported"]) == ["d/a.txt", "d/run.sh"], rep
    assert {e["path"]: e["sha256"] for e in rep["imported"]} == {"d/a.txt": sha256(a), "d/run.sh": sha256(b)}


def test_import_dvc_legacy_crlf(tmp_path):
    """DVC 2 hashed text files with CRLF turned into LF; the cache keeps the original bytes."""
    proj = DvcProject(tmp_path, version=2)
    data = b"a,b\r\n1,2\r\n"
    d = md5(data.replace(b"\r\n", b"\n"))
    write(proj.obj_path(d), data)
    write(os.path.join(proj.root, "t.csv"), data)
    write(os.path.join(proj.root, "t.csv.dvc"), f"outs:\n- md5: {d}\n  size: {len(data)}\n  path: t.csv\n".encode())
    r = proj.cli("import-dvc", "--json")
    assert r.rc == 0, r
    assert json.loads(r.out)["imported"][0]["sha256"] == sha256(data)


def test_import_dvc_no_dvc_folder(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    r = run_cli(["data", "import-dvc"], cwd=str(tmp_path))
    assert r.rc != 0 and ".dvc" in r.err, r
    r = run_cli(["data", "import-dvc", "--dvc-dir", "nowhere"], cwd=str(tmp_path))
    assert r.rc != 0 and "nowhere" in r.err, r


def test_import_dvc_cache_dir_config(tmp_path):
    proj = DvcProject(tmp_path)
    proj.add_file("raw.csv", RAW)
    os.rename(os.path.join(proj.root, ".dvc", "cache"), os.path.join(proj.root, "shared-cache"))
    write(os.path.join(proj.root, ".dvc", "config"), b"[core]\n    autostage = true\n[cache]\n    dir = ../shared-cache\n")
    r = proj.cli("import-dvc", "--json")
    assert r.rc == 0 and json.loads(r.out)["imported"][0]["path"] == "raw.csv", r
    write(os.path.join(proj.root, ".dvc", "config"), b"[cache]\n    dir = /nonexistent/dvc-cache\n")
    r = proj.cli("import-dvc")
    assert r.rc != 0 and "/nonexistent/dvc-cache" in r.err, r
    assert not SANITIZER.search(r.err)


def test_import_dvc_keeps_the_exec_bit_of_a_file_through_a_fresh_checkout(tmp_path):
    proj = DvcProject(tmp_path)
    script = b"#!/bin/sh\necho hi\n"
    proj.add_file("bin/run.sh", script, extra={"isexec": "true"})
    r = proj.cli("import-dvc", "--json")
    assert r.rc == 0, r
    ptr = read(os.path.join(proj.root, "bin/run.sh.cairn")).decode()
    assert "isexec: true" in ptr, ptr
    # a fresh clone: the data is gone, checkout writes it back executable
    os.unlink(os.path.join(proj.root, "bin/run.sh"))
    r = proj.cli("checkout")
    assert r.rc == 0, r
    assert os.stat(os.path.join(proj.root, "bin/run.sh")).st_mode & 0o111
    assert read(os.path.join(proj.root, "bin/run.sh")) == script


def test_import_dvc_imports_what_dvc_lock_records(tmp_path):
    proj = DvcProject(tmp_path)
    model, feats = b"weights\n", b"a,b\n1,2\n"
    dm, df = proj.cache_put(model), proj.cache_put(feats)
    # a stage in a subfolder whose out goes into a folder that does not exist (not pulled, fresh clone)
    write(os.path.join(proj.root, "train/dvc.yaml"),
          b"stages:\n  fit:\n    cmd: python3 fit.py\n    outs: [out/model.bin]\n"
          b"    metrics:\n    - metrics.json:\n        cache: false\n"
          b"  feats:\n    wdir: ..\n    cmd: python3 feats.py\n    outs: [data/features/f.csv]\n")
    write(os.path.join(proj.root, "train/dvc.lock"), (
        "schema: '2.0'\nstages:\n  fit:\n    cmd: python3 fit.py\n    outs:\n"
        f"    - path: out/model.bin\n      hash: md5\n      md5: {dm}\n      size: {len(model)}\n"
        f"    - path: metrics.json\n      hash: md5\n      md5: {md5(b'{}')}\n      size: 2\n"
        "  feats:\n    cmd: python3 feats.py\n    outs:\n"
        f"    - path: data/features/f.csv\n      hash: md5\n      md5: {df}\n      size: {len(feats)}\n").encode())
    r = proj.cli("import-dvc", "--json")
    assert r.rc == 0, r
    rep = json.loads(r.out)
    got = {e["path"]: e["sha256"] for e in rep["imported"]}
    # metrics.json is cache: false (kept in git): not imported
    assert got == {"train/out/model.bin": sha256(model), "data/features/f.csv": sha256(feats)}, rep
    assert os.path.exists(os.path.join(proj.root, "train/out/model.bin.cairn"))
    r = proj.cli("checkout")
    assert r.rc == 0, r
    assert read(os.path.join(proj.root, "data/features/f.csv")) == feats
    assert read(os.path.join(proj.root, "train/out/model.bin")) == model
