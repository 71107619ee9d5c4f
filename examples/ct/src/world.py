"""The world the example model lives in: five features and a target, y = 2*f0 + sin(f1) + noise.
Shared by src/simulate.py (data and traffic) and by tests/monitor/test_ct_loop.py.

`shift` moves f0's mean (what an upstream change does to live traffic); trees do not
extrapolate, so a model trained before the shift is wrong after it until it is retrained.
"""
import math
import random

COLUMNS = ["f0", "f1", "f2", "f3", "f4"]


def features(n, seed, shift=0.0):
    rnd = random.Random(seed)
    return [[round(rnd.gauss(shift if j == 0 else 0.0, 1.0), 6) for j in range(5)] for _ in range(n)]


def target(row, rnd):
    return round(2.0 * row[0] + math.sin(row[1]) + rnd.gauss(0.0, 0.1), 6)


def table(n, seed, shift=0.0, null_share=0.0):
    """CSV text with a header: f0..f4 and y; null_share of f1's fields left empty"""
    rnd = random.Random(seed + 1_000_003)
    lines = [",".join(COLUMNS + ["y"])]
    for r in features(n, seed, shift):
        y = target(r, rnd)
        cells = [repr(v) for v in r] + [repr(y)]
        if null_share and rnd.random() < null_share:
            cells[1] = ""
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"
