"""cairn profile over a table far bigger than memory should matter: a CSV streamed through a
named pipe (so it is never on disk and cannot be mapped or split), from a generator that writes
unique rows at GB/s. The rows are counted exactly, the nulls are where they were put, and the
peak RSS stays under a fixed bound whatever the size (the duplicate-row set stops growing at
PROFILE_ROWSET_MAX hashes, every other sketch is fixed-size).

CAIRN_STREAM_GB sets the size (default 0.5; the 10 GB run of docs/profiles.md used 10).
The release binary (build/cairn) is used when it is there: the bound is about cairn's memory,
not ASan's shadow and quarantine."""
import json
import os
import random
import subprocess
import threading

from conftest import REPO, cairn_bin

BOUND_MB = 300


def generate(path, gb, counts):
    rnd = random.Random(1)
    lines, nulls = [], 0
    for _ in range(20000):
        empty = rnd.random() < 0.01
        nulls += empty
        lines.append(b"%.6f,%d,%s,%s" % (rnd.gauss(0, 1), rnd.randrange(1000), rnd.choice([b"red", b"green", b"blue"]),
                                          b"" if empty else b"%.3f" % rnd.random()))
    total, chunk, limit = 0, 0, int(gb * (1 << 30))
    with open(path, "wb", buffering=1 << 20) as out:
        out.write(b"chunk,x,n,colour,p\n")
        try:
            while total < limit:
                prefix = b"%d," % chunk   # every row unique: (chunk, line)
                block = prefix + (b"\n" + prefix).join(lines) + b"\n"
                out.write(block)
                total += len(block)
                chunk += 1
        except BrokenPipeError:
            pass
    counts.update(rows=chunk * len(lines), nulls=chunk * nulls, bytes=total)


def test_a_stream_bigger_than_memory_is_profiled_in_bounded_memory(tmp_path):
    gb = float(os.environ.get("CAIRN_STREAM_GB", "0.5"))
    release = os.path.join(REPO, "build", "cairn")
    binary = release if os.access(release, os.X_OK) else cairn_bin()
    fifo = tmp_path / "big.csv"
    os.mkfifo(fifo)
    counts = {}
    gen = threading.Thread(target=generate, args=(fifo, gb, counts))
    gen.start()
    out = tmp_path / "big.profile.json"
    p = subprocess.Popen([binary, "profile", str(fifo), "-o", str(out)], stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace")
    p.returncode = os.waitstatus_to_exitcode(status)
    gen.join()
    assert p.returncode == 0, err
    prof = json.loads(out.read_text())
    assert prof["dataset"]["rows"] == counts["rows"]
    assert prof["columns"]["p"]["nulls"] == counts["nulls"]
    assert prof["columns"]["chunk"]["type"] == "integer"
    colour = prof["columns"]["colour"]
    assert colour["distinct"] == 3 and colour["distinct_exact"] and sum(n for _, n in colour["top"]) == counts["rows"]
    peak_mb = usage.ru_maxrss / 1024
    print("streamed %.2f GB, %d rows: peak RSS %.0f MB (%s)" % (counts["bytes"] / (1 << 30), counts["rows"], peak_mb,
                                                                binary))
    assert peak_mb < BOUND_MB + (2000 if binary != release else 0), peak_mb
