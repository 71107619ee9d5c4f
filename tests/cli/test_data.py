"""Black-box tests of `cairn data`: add, status, checkout across git revisions,
push/pull between workspaces through a remote, interrupted push, corruption,
gc scopes, and the error paths (each a clear message, non-zero exit, nothing lost)."""

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import time

import pytest

from conftest import SANITIZER, base_env, cairn_bin, run_cli


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@e")
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def data(cwd, *args, ok=True, **kw):
    r = run_cli(["data", *args, "-q"] if args and args[0] not in ("remote", "config") else ["data", *args],
                cwd=cwd, **kw)
    if ok:
        assert r.rc == 0, r
    return r


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.chmod(path, 0o644)
    with open(path, "w") as f:
        f.write(text)


def tree(root):
    """{relpath: sha256} of every file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = sha(p)
    return out


@pytest.fixture
def ws(tmp_path):
    w = tmp_path / "ws"
    w.mkdir()
    git(w, "init", "-q", "-b", "main")
    write(str(w / "data/raw.csv"), "a,b\n1,2\n")
    for i in range(5):
        write(str(w / f"data/images/{i}.jpg"), f"image {i}\n" * (i + 1))
    write(str(w / "data/images/sub/deep.bin"), "deep\n")
    return w


def status(cwd, *targets):
    r = data(cwd, "status", "--json", "--no-remote", *targets)
    return {e["path"]: e for e in json.loads(r.out)["entries"]}


def test_add_writes_pointers_gitignore_and_cache(ws):
    r = data(ws, "add", "data/raw.csv", "data/images/", "--json")
    rep = json.loads(r.out)["added"]
    assert {a["path"] for a in rep} == {"data/raw.csv", "data/images"}
    ptr = (ws / "data/raw.csv.cairn").read_text()
    assert f"sha256: {sha(ws / 'data/raw.csv')}" in ptr and "size: 8" in ptr and "path: raw.csv" in ptr
    dptr = (ws / "data/images.cairn").read_text()
    assert "type: dir" in dptr and "nfiles: 6" in dptr
    gi = (ws / "data/.gitignore").read_text().splitlines()
    assert "/raw.csv" in gi and "/images" in gi
    assert (ws / ".cairn/.gitignore").read_text() == "/cache/\n/tmp/\n"
    # the cache holds every file (content-addressed)
    for p, h in tree(ws / "data/images").items():
        assert (ws / ".cairn/cache/objects" / h[:2] / h[2:]).exists(), p
    st = status(ws)
    assert st["data/raw.csv"]["state"] == "ok" and st["data/images"]["state"] == "ok"
    # adding again is a no-op: same pointer bytes, reported unchanged
    before = dptr
    r = data(ws, "add", "data/images", "--json")
    assert json.loads(r.out)["added"][0]["changed"] is False
    assert (ws / "data/images.cairn").read_text() == before


def test_directory_hash_is_deterministic(ws, tmp_path):
    data(ws, "add", "data/images")
    other = tmp_path / "other"
    shutil.copytree(ws / "data/images", other / "data/images")
    git(other, "init", "-q")
    data(other, "add", "data/images")
    assert (other / "data/images.cairn").read_text() == (ws / "data/images.cairn").read_text()


def test_status_sees_add_modify_delete_rename(ws):
    data(ws, "add", "data/images", "data/raw.csv")
    write(str(ws / "data/images/new.txt"), "new\n")
    write(str(ws / "data/images/0.jpg"), "changed\n")
    os.remove(ws / "data/images/1.jpg")
    os.rename(ws / "data/images/2.jpg", ws / "data/images/two.jpg")
    e = status(ws)["data/images"]
    assert e["state"] == "modified"
    assert sorted(e["added"]) == ["new.txt", "two.jpg"]
    assert e["modified"] == ["0.jpg"]
    assert sorted(e["deleted"]) == ["1.jpg", "2.jpg"]
    r = data(ws, "status", "--no-remote")
    assert "modified  data/images/" in r.out and "added:    new.txt" in r.out
    # re-adding records the new state
    data(ws, "add", "data/images")
    assert status(ws)["data/images"]["state"] == "ok"
    # a deleted file pointer
    os.remove(ws / "data/raw.csv")
    assert status(ws)["data/raw.csv"]["state"] == "missing"


def test_checkout_across_git_revisions(ws):
    data(ws, "add", "data/raw.csv", "data/images")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "v1")
    git(ws, "tag", "v1")
    v1 = tree(ws / "data")
    write(str(ws / "data/raw.csv"), "a,b\n1,2\n3,4\n")
    write(str(ws / "data/images/0.jpg"), "v2 image\n")
    os.remove(ws / "data/images/4.jpg")
    write(str(ws / "data/images/more/5.jpg"), "five\n")
    data(ws, "add", "data/raw.csv", "data/images")
    git(ws, "commit", "-qam", "v2")
    v2 = tree(ws / "data")
    assert v1 != v2
    git(ws, "checkout", "-q", "v1")
    data(ws, "checkout")
    assert tree(ws / "data") == v1
    assert not (ws / "data/images/more").exists()  # emptied folders go too
    git(ws, "checkout", "-q", "main")
    r = data(ws, "checkout", "data/images")
    assert "written" in r.out
    data(ws, "checkout")
    assert tree(ws / "data") == v2
    assert all(e["state"] == "ok" for e in status(ws).values())


def test_checkout_restores_deleted_and_refuses_to_lose_changes(ws):
    data(ws, "add", "data/images")
    shutil.rmtree(ws / "data/images")
    data(ws, "checkout", "data/images.cairn")
    assert status(ws)["data/images"]["state"] == "ok"
    # an edit that is not in the cache is not thrown away silently
    write(str(ws / "data/images/0.jpg"), "precious edit\n")
    r = data(ws, "checkout", ok=False)
    assert r.rc == 1 and "not in the cache" in r.err and "data/images/0.jpg" in r.err, r
    assert (ws / "data/images/0.jpg").read_text() == "precious edit\n"
    r = data(ws, "checkout", "--force")
    assert (ws / "data/images/0.jpg").read_text() == "image 0\n"


def test_push_pull_between_workspaces(ws, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    data(ws, "add", "data/raw.csv", "data/images")
    data(ws, "remote", "add", "storage", str(remote), "--default")
    e = status(ws)
    r = data(ws, "status", "--json")
    ent = {x["path"]: x for x in json.loads(r.out)["entries"]}
    assert ent["data/images"]["not_pushed"] == 7  # manifest + 6 files
    r = data(ws, "push", "--json")
    rep = json.loads(r.out)
    assert rep["copied"] == 8 and rep["failed"] == [] and rep["remote"] == "storage"
    r = data(ws, "push", "--json")
    assert json.loads(r.out)["copied"] == 0
    r = data(ws, "status", "--json")
    assert all(x["not_pushed"] == 0 for x in json.loads(r.out)["entries"])
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "data")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(ws), str(clone))
    assert not (clone / "data/raw.csv").exists()
    r = data(clone, "pull")
    assert tree(clone / "data") == tree(ws / "data")
    for p, h in tree(ws / "data").items():
        assert sha(clone / "data" / p) == h, p
    assert all(x["state"] == "ok" for x in e.values())
    assert all(x["state"] == "ok" for x in status(clone).values())


def test_interrupted_push_resumes(ws, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    big = ws / "data/big"
    for i in range(300):
        write(str(big / f"f{i:03d}.bin"), (f"{i}-" * 20000))
    data(ws, "add", "data/big")
    data(ws, "remote", "add", "r", str(remote), "--default")
    p = subprocess.Popen([cairn_bin(), "data", "push", "-q", "-j", "1"], cwd=ws, env=base_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    objs = remote / "objects"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        n = sum(len(fs) for d, _, fs in os.walk(objs) if not d.endswith("tmp"))
        if n >= 20 or p.poll() is not None:
            break
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.communicate()
    n = sum(len(fs) for d, _, fs in os.walk(objs) if not d.endswith("tmp"))
    assert n < 301, "push finished before it could be interrupted"
    # the manifest goes last, so the remote never claims the folder is complete
    mh = [l for l in (ws / "data/big.cairn").read_text().splitlines() if l.startswith("sha256:")][0].split()[1]
    assert not (objs / mh[:2] / mh[2:]).exists()
    r = data(ws, "push", "--json")
    rep = json.loads(r.out)
    assert rep["failed"] == [] and rep["copied"] + rep["present"] == 301 and rep["present"] >= n
    clone = tmp_path / "clone"
    clone.mkdir()
    git(clone, "init", "-q")
    shutil.copy(ws / "data/big.cairn", clone / "big.cairn")
    data(clone, "remote", "add", "r", str(remote), "--default")
    data(clone, "pull")
    assert tree(clone / "big") == tree(big)


def obj(root, h):
    return root / "objects" / h[:2] / h[2:]


def corrupt(path):
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"X")


def test_corruption_in_cache_and_remote_is_named(ws, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    data(ws, "add", "data/images")
    data(ws, "remote", "add", "r", str(remote), "--default")
    data(ws, "push")
    h = sha(ws / "data/images/3.jpg")
    # corrupt the cache copy: checkout and fsck name it, the good files still come back
    corrupt(obj(ws / ".cairn/cache", h))
    shutil.rmtree(ws / "data/images")
    r = data(ws, "checkout", ok=False)
    assert r.rc == 1 and h in r.err and "corrupt" in r.err, r
    assert not (ws / "data/images/3.jpg").exists()
    assert (ws / "data/images/0.jpg").read_text() == "image 0\n"
    r = data(ws, "fsck", ok=False)
    assert r.rc == 1 and h in r.err, r
    # corrupt the remote copy: pull refuses to use it
    corrupt(obj(remote, h))
    os.remove(obj(ws / ".cairn/cache", h))
    r = data(ws, "pull", ok=False)
    assert r.rc == 1 and h in r.err and "corrupt" in r.err, r
    assert not obj(ws / ".cairn/cache", h).exists()
    assert not os.listdir(ws / ".cairn/cache/objects/tmp")
    # pushing a corrupt cache object does not spread it
    remote2 = tmp_path / "remote2"
    remote2.mkdir()
    h0 = sha(ws / "data/images/0.jpg")
    corrupt(obj(ws / ".cairn/cache", h0))
    r = data(ws, "push", "-r", "r2", ok=False)
    assert r.rc == 1 and "no remote named 'r2'" in r.err
    data(ws, "remote", "add", "r2", str(remote2))
    r = data(ws, "push", "-r", "r2", ok=False)
    assert r.rc == 1 and h0 in r.err and "corrupt" in r.err, r
    assert not obj(remote2, h0).exists()


def test_readd_replaces_a_corrupt_or_planted_cache_object(ws, tmp_path):
    # an object already in the cache is reused only when it checks out: one of the right
    # size with the wrong bytes, or a link planted in its place, is replaced on the next add
    data(ws, "add", "data/raw.csv")
    h = sha(ws / "data/raw.csv")
    o = obj(ws / ".cairn/cache", h)
    corrupt(o)
    data(ws, "add", "data/raw.csv")
    assert sha(o) == h
    data(ws, "fsck")
    outside = tmp_path / "outside.csv"
    outside.write_text("x,y\n3,4\n")  # same size as data/raw.csv
    os.remove(o)
    os.symlink(outside, o)
    data(ws, "add", "data/raw.csv")
    assert not os.path.islink(o) and sha(o) == h
    assert outside.read_text() == "x,y\n3,4\n"
    os.remove(ws / "data/raw.csv")
    data(ws, "checkout")
    assert (ws / "data/raw.csv").read_text() == "a,b\n1,2\n"


def test_gc_scopes(ws):
    data(ws, "add", "data/raw.csv")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "v1")
    old = sha(ws / "data/raw.csv")
    write(str(ws / "data/raw.csv"), "v2\n")
    data(ws, "add", "data/raw.csv")
    git(ws, "commit", "-qam", "v2")
    write(str(ws / "data/raw.csv"), "v3 never committed\n")
    data(ws, "add", "data/raw.csv")
    v2 = "v2\n"
    h2 = hashlib.sha256(v2.encode()).hexdigest()
    cache = ws / ".cairn/cache"
    r = data(ws, "gc", ok=False)
    assert r.rc == 1 and "--workspace" in r.err
    r = data(ws, "gc", "--all-commits", "--dry-run", "--json")
    assert json.loads(r.out)["removed"] == 0
    r = data(ws, "gc", "--all-commits", "--json")
    assert json.loads(r.out)["removed"] == 0 and obj(cache, old).exists() and obj(cache, h2).exists()
    r = data(ws, "gc", "--rev", "HEAD", "--json")
    assert json.loads(r.out)["removed"] == 1 and not obj(cache, old).exists() and obj(cache, h2).exists()
    r = data(ws, "gc", "--workspace", "--dry-run", "--json")
    assert json.loads(r.out)["removed"] == 1 and obj(cache, h2).exists()
    data(ws, "gc", "--workspace")
    assert not obj(cache, h2).exists()
    assert obj(cache, sha(ws / "data/raw.csv")).exists()
    r = data(ws, "gc", "--rev", "no-such-rev", ok=False)
    assert r.rc == 1 and "git rev-list failed" in r.err


def test_gc_keeps_directory_members_of_old_commits(ws):
    data(ws, "add", "data/images")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "v1")
    gone = sha(ws / "data/images/4.jpg")
    os.remove(ws / "data/images/4.jpg")
    data(ws, "add", "data/images")
    git(ws, "commit", "-qam", "v2")
    data(ws, "gc", "--all-commits")
    assert obj(ws / ".cairn/cache", gone).exists()
    data(ws, "gc", "--workspace")
    assert not obj(ws / ".cairn/cache", gone).exists()


@pytest.mark.parametrize("path,msg", [
    ("../outside.csv", "outside the workspace"),
    ("/etc/hostname", "outside the workspace"),
    ("data/images/0.jpg", "already tracked by data/images.cairn"),
    ("data/nope.csv", "No such file"),
    ("data/raw.csv.cairn", "is a pointer file"),
    (".cairn/config", "inside cairn's or git's own folder"),
])
def test_add_bad_paths(ws, path, msg):
    data(ws, "add", "data/images", "data/raw.csv")
    before = (ws / "data/images.cairn").read_text()
    r = data(ws, "add", path, ok=False)
    assert r.rc == 1 and msg in r.err, r
    assert (ws / "data/images.cairn").read_text() == before


def test_add_refuses_git_tracked_and_overlapping(ws):
    git(ws, "add", "data/raw.csv")
    r = data(ws, "add", "data/raw.csv", ok=False)
    assert r.rc == 1 and "tracked by git" in r.err, r
    assert not (ws / "data/raw.csv.cairn").exists()
    r = data(ws, "add", "data/images", "data/images/sub", ok=False)
    assert r.rc == 1 and "overlap" in r.err
    data(ws, "add", "data/images/sub")
    r = data(ws, "add", "data/images", ok=False)
    assert r.rc == 1 and "pointer file inside a tracked directory" in r.err, r


def test_invalid_pointer_file(ws):
    data(ws, "add", "data/raw.csv")
    (ws / "data/raw.csv.cairn").write_text("path: raw.csv\nsha256: [unclosed\n")
    r = data(ws, "status", ok=False)
    assert r.rc == 1 and "data/raw.csv.cairn" in r.err and "line" in r.err and "git checkout" in r.err, r
    (ws / "data/raw.csv.cairn").write_text("path: raw.csv\nsha256: abc\nsize: 1\n")
    r = data(ws, "checkout", ok=False)
    assert r.rc == 1 and "'sha256' must be 64 lowercase hex digits" in r.err, r
    (ws / "data/raw.csv.cairn").write_text("path: ../../etc/passwd\nsha256: " + "a" * 64 + "\nsize: 1\n")
    r = data(ws, "checkout", ok=False)
    assert r.rc == 1 and "'path' must be a relative path" in r.err, r


def test_remote_unreachable(ws, tmp_path):
    data(ws, "add", "data/raw.csv")
    r = data(ws, "push", ok=False)
    assert r.rc == 1 and "no default remote" in r.err
    data(ws, "remote", "add", "gone", str(tmp_path / "not/mounted/here"), "--default")
    for cmd in ("push", "pull", "status"):
        r = data(ws, cmd, ok=False)
        assert r.rc == 1 and "remote 'gone' is not reachable" in r.err, r
    assert not (tmp_path / "not").exists()
    data(ws, "remote", "add", "s3", "s3://bucket/x")
    r = data(ws, "push", "-r", "s3", ok=False)
    assert r.rc == 1 and "only local or NFS" in r.err
    r = data(ws, "remote", "add", "bad name", "/x", ok=False)
    assert r.rc == 1


def test_disk_full_during_pull_leaves_cache_consistent(ws, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    write(str(ws / "data/big/a.bin"), "a" * 300000)
    write(str(ws / "data/big/b.bin"), "b" * 300000)
    data(ws, "add", "data/big")
    data(ws, "remote", "add", "r", str(remote), "--default")
    data(ws, "push")
    shutil.rmtree(ws / ".cairn/cache")
    shutil.rmtree(ws / "data/big")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))

    p = subprocess.run([cairn_bin(), "data", "pull", "-q"], cwd=ws, env=base_env(), capture_output=True,
                       text=True, preexec_fn=limit, timeout=60)
    assert p.returncode == 1 and "File too large" in p.stderr, p.stderr
    assert not SANITIZER.search(p.stderr)
    assert not os.listdir(ws / ".cairn/cache/objects/tmp")
    data(ws, "fsck")
    data(ws, "pull")
    assert sha(ws / "data/big/a.bin") == hashlib.sha256(b"a" * 300000).hexdigest()


def test_link_strategies(ws):
    data(ws, "config", "cache.type", "hardlink,copy")
    data(ws, "add", "data/images")
    shutil.rmtree(ws / "data/images")
    data(ws, "checkout")
    st = os.stat(ws / "data/images/0.jpg")
    assert st.st_nlink == 2 and (st.st_mode & 0o777) == 0o444  # linked, protected read-only
    data(ws, "config", "cache.type", "copy")
    shutil.rmtree(ws / "data/images")
    data(ws, "checkout")
    st = os.stat(ws / "data/images/0.jpg")
    assert st.st_nlink == 1 and (st.st_mode & 0o200)
    r = data(ws, "config", "cache.type", "symlink", ok=False)
    assert r.rc == 1 and "reflink, hardlink or copy" in r.err
    assert data(ws, "config", "cache.type").out.strip() == "copy"


def test_executable_bit_survives(ws):
    os.chmod(ws / "data/images/1.jpg", 0o755)
    data(ws, "add", "data/images")
    shutil.rmtree(ws / "data/images")
    data(ws, "checkout")
    assert os.stat(ws / "data/images/1.jpg").st_mode & 0o111
    assert not os.stat(ws / "data/images/0.jpg").st_mode & 0o111


def test_unchanged_files_are_not_rehashed(ws):
    data(ws, "add", "data/images")
    time.sleep(0.05)
    status(ws)  # records anything that was too fresh the first time
    p = ws / "data/images/0.jpg"
    st = os.stat(p)
    # same size and mtime, different bytes: the stat cache trusts the stat (as git and DVC do)
    os.chmod(p, 0o644)
    with open(p, "r+b") as f:
        f.write(b"I")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert status(ws)["data/images"]["state"] == "ok"
    # touching it makes cairn look again
    os.utime(p)
    assert status(ws)["data/images"]["modified"] == ["0.jpg"]


def test_add_log_records_dataset_input(ws, tmp_path):
    root = tmp_path / "store"
    r = data(ws, "add", "data/images", "--log", "--root", str(root), "-e", "datasets")
    assert "logged 1 dataset input(s) to run" in r.out, r
    run_id = r.out.strip().split()[-1]
    r = run_cli(["runs", "show", run_id, "--root", str(root), "--json"])
    assert r.rc == 0, r
    run = json.loads(r.out)
    run = run.get("run", run)
    ds = run["inputs"]["dataset_inputs"][0]["dataset"]
    h = [l for l in (ws / "data/images.cairn").read_text().splitlines() if l.startswith("sha256:")][0].split()[1]
    assert ds["name"] == "data/images" and ds["digest"] == h[:32]
    assert json.loads(ds["source"])["sha256"] == h
    assert json.loads(ds["profile"])["num_files"] == 6


def test_usage_errors(ws):
    for argv in (["data"], ["data", "frobnicate"], ["data", "config"], ["data", "status", "--jobs", "0"],
                 ["data", "status", "--bogus"]):
        r = run_cli(argv, cwd=ws)
        assert r.rc == 2 and r.err.strip(), r
    r = run_cli(["data", "--help"])
    assert r.rc == 0 and "checkout" in r.out and "gc SCOPE" in r.out
    r = data(ws, "checkout", "data/unknown", ok=False)
    assert r.rc == 1 and "is not tracked" in r.err


def test_targets_by_folder_and_subdir_cwd(ws):
    data(ws, "add", "data/raw.csv", "data/images")
    r = data(ws / "data", "status", "--json", "--no-remote", ".")
    assert {e["path"] for e in json.loads(r.out)["entries"]} == {"data/raw.csv", "data/images"}
    r = data(ws / "data/images", "status", "--json", "--no-remote", "../raw.csv")
    assert [e["path"] for e in json.loads(r.out)["entries"]] == ["data/raw.csv"]


def test_one_pointer_failing_does_not_stop_the_others(ws):
    data(ws, "add", "data/images", "data/raw.csv")
    write(str(ws / "data/images/0.jpg"), "uncached edit\n")
    os.remove(ws / "data/raw.csv")
    r = data(ws, "checkout", ok=False)
    assert r.rc == 1 and "data/images" in r.err and "--force" in r.err, r
    assert (ws / "data/raw.csv").read_text() == "a,b\n1,2\n"
    assert (ws / "data/images/0.jpg").read_text() == "uncached edit\n"


def test_names_that_sort_around_the_folder_separator(ws):
    # '-' and '.' sort before '/', '0' after it: the manifest must still be in
    # bytewise path order, and the same on every machine
    d = ws / "data/tricky"
    for name in ("a/x", "a/y/z", "a-b", "a.c", "a0", "a", "b/a-b/c", "b/a/c", "b/a.b", "é", "Z"):
        p = d / name
        if name == "a":
            continue
        write(str(p), name + "\n")
    data(ws, "add", "data/tricky")
    assert status(ws)["data/tricky"]["state"] == "ok"
    shutil.rmtree(d)
    data(ws, "checkout")
    assert (d / "a-b").read_text() == "a-b\n" and (d / "a/y/z").read_text() == "a/y/z\n"
    assert status(ws)["data/tricky"]["state"] == "ok"


def test_no_progress_output_when_not_a_terminal(ws):
    # the progress line is for terminals only; piped output stays clean
    r = run_cli(["data", "add", "data/images"], cwd=ws)
    assert r.rc == 0 and r.err == "", r
    shutil.rmtree(ws / "data/images")
    r = run_cli(["data", "checkout"], cwd=ws)
    assert r.rc == 0 and r.err == "", r


def test_a_cairn_folder_above_the_repository_does_not_capture_it(tmp_path):
    outer = tmp_path / "home"
    (outer / ".cairn").mkdir(parents=True)
    repo = outer / "projects" / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    write(str(repo / "d/x.txt"), "x\n")
    data(repo / "d", "add", "x.txt")
    assert (repo / ".cairn/cache").is_dir() and (repo / "d/x.txt.cairn").exists()
    assert not (outer / ".cairn/cache").exists()
    # a .cairn inside the repository (a sub-project) is still found from below
    sub = repo / "sub"
    (sub / ".cairn").mkdir(parents=True)
    write(str(sub / "y.txt"), "y\n")
    data(sub, "add", "y.txt")
    assert (sub / ".cairn/cache").is_dir()
