"""Data and traffic for the continuous-training example (no third-party packages).

    python3 src/simulate.py data -o data/train.csv [--rows N] [--seed S] [--shift X] [--null-share F]
    python3 src/simulate.py traffic URL [--rows N] [--batch B] [--seed S] [--shift X] [--labels]

`traffic` posts batches to URL/invocations (MLflow's dataframe_split) and, with --labels, the
true targets of each batch to URL/labels by the request id the answer carried; it prints one
line per batch: the request id, the X-Model-Version that answered and the batch's RMSE.
"""
import argparse
import json
import math
import os
import random
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers, json.loads(r.read())


def traffic(a):
    rnd = random.Random(a.seed + 7)
    sent = 0
    while sent < a.rows:
        n = min(a.batch, a.rows - sent)
        batch = world.features(n, a.seed * 100_003 + sent, a.shift)
        headers, out = post(a.url + "/invocations", {"dataframe_split": {"columns": world.COLUMNS, "data": batch}})
        truth = [world.target(r, rnd) for r in batch]
        preds = out["predictions"]
        rmse = math.sqrt(sum((p - t) ** 2 for p, t in zip(preds, truth)) / n)
        rid = headers.get("X-Request-ID")
        if a.labels:
            post(a.url + "/labels", {"request_id": rid, "label": truth})
        print("%s version %s rmse %.3f" % (rid, headers.get("X-Model-Version"), rmse), flush=True)
        sent += n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data")
    d.add_argument("-o", "--output", required=True)
    d.add_argument("--null-share", type=float, default=0.0)
    t = sub.add_parser("traffic")
    t.add_argument("url")
    t.add_argument("--batch", type=int, default=50)
    t.add_argument("--labels", action="store_true")
    for s in (d, t):
        s.add_argument("--rows", type=int, default=3000)
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--shift", type=float, default=0.0)
    a = p.parse_args()
    if a.cmd == "data":
        os.makedirs(os.path.dirname(a.output) or ".", exist_ok=True)
        tmp = a.output + ".tmp"
        with open(tmp, "w") as f:
            f.write(world.table(a.rows, a.seed, a.shift, a.null_share))
        os.replace(tmp, a.output)
    else:
        traffic(a)


if __name__ == "__main__":
    main()
