#!/usr/bin/python3
"""Writes tests/stats/stattest_expected.json: scipy's and numpy's answers for
the cases tests/stats/stattest.c runs through src/stats/stattest.c.

  /usr/bin/python3 tests/stats/gen_stattest.py   # from the repository root

Samples are not stored: each is described by a spec that the C test expands
the same way (SplitMix64 integers, scaled by a power of two, so every value
is exact in both languages), then sorted. The anchor fixtures
(../shared/anchors/monitoring/fixtures) are not touched here: their drift JSON
already holds scipy's answers and the C test reads them directly.
Needs Debian's python3-numpy and python3-scipy (numpy 1.24, scipy 1.10).
"""
import json
import math
import os
import platform
import sys
import warnings

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial import distance

MASK = (1 << 64) - 1


def splitmix(seed, i):
    z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def sample(spec):
    """spec: seed, n, range R, terms m, scale (a power of two), shift; R == 0: i * scale + shift."""
    seed, n, r, m = spec["seed"], spec["n"], spec["range"], spec["terms"]
    out = []
    for i in range(n):
        if r == 0:  # an arithmetic sequence: i * scale + shift
            out.append(float(i) * spec["scale"] + spec["shift"])
            continue
        s = 0
        for t in range(m):
            s += splitmix(seed, i * m + t) % r
        out.append(float(s) * spec["scale"] + spec["shift"])
    a = np.array(out, dtype=np.float64)
    a.sort()
    return a


def spec(seed, n, r=1 << 30, terms=2, scale=2.0 ** -24, shift=0.0):
    return {"seed": seed, "n": n, "range": r, "terms": terms, "scale": scale, "shift": shift}


def num(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def ks_case(name, sa, sb):
    a, b = sample(sa), sample(sb)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = stats.ks_2samp(a, b)
    n1, n2 = len(a), len(b)
    method = "exact" if max(n1, n2) <= 10000 else "asymp"
    if method == "exact" and any("Switching to" in str(x.message) for x in w):
        method = "asymp_fallback"
    en = n1 * n2 / (n1 + n2)
    return {"name": name, "a": sa, "b": sb, "statistic": num(res.statistic), "p_value": num(res.pvalue),
            "method": method,
            "p_value_kolmogorov": num(special.kolmogorov(math.sqrt(en) * float(res.statistic))),
            "wasserstein": num(stats.wasserstein_distance(a, b))}


def ks_cases():
    c = []
    c.append(ks_case("n1_1_same", spec(1, 1), spec(1, 1)))
    c.append(ks_case("n1_1_apart", spec(1, 1), spec(2, 1, shift=100.0)))
    c.append(ks_case("n2_3", spec(3, 2), spec(4, 3)))
    c.append(ks_case("n5_5", spec(5, 5), spec(6, 5)))
    c.append(ks_case("n50_50_shift", spec(7, 50), spec(8, 50, shift=20.0)))
    c.append(ks_case("n1000_1000", spec(9, 1000), spec(10, 1000)))
    c.append(ks_case("n1000_1000_shift", spec(9, 1000), spec(10, 1000, shift=3.0)))
    c.append(ks_case("n10000_10000", spec(11, 10000), spec(12, 10000)))
    c.append(ks_case("n10000_10000_shift", spec(11, 10000), spec(12, 10000, shift=1.0)))
    c.append(ks_case("ties_r3_200_300", spec(13, 200, r=3, terms=1, scale=1.0),
                     spec(14, 300, r=3, terms=1, scale=1.0)))
    c.append(ks_case("ties_r5_1000_1000", spec(15, 1000, r=5, terms=1, scale=1.0),
                     spec(16, 1000, r=5, terms=1, scale=1.0)))
    c.append(ks_case("constant_same", spec(17, 40, r=1, terms=1, scale=1.0, shift=2.5),
                     spec(18, 60, r=1, terms=1, scale=1.0, shift=2.5)))
    c.append(ks_case("constant_apart", spec(17, 40, r=1, terms=1, scale=1.0, shift=2.5),
                     spec(18, 60, r=1, terms=1, scale=1.0, shift=3.5)))
    c.append(ks_case("disjoint_100_100", spec(19, 100), spec(20, 100, shift=200.0)))
    c.append(ks_case("disjoint_2000_2000_underflow", spec(19, 2000), spec(20, 2000, shift=200.0)))
    c.append(ks_case("disjoint_300_700", spec(21, 300), spec(22, 700, shift=200.0)))
    c.append(ks_case("n3_7", spec(23, 3), spec(24, 7)))
    c.append(ks_case("n10_15", spec(25, 10), spec(26, 15)))
    c.append(ks_case("n100_250", spec(27, 100), spec(28, 250, shift=5.0)))
    c.append(ks_case("n999_1000", spec(29, 999), spec(30, 1000)))
    c.append(ks_case("n1000_3000", spec(31, 1000), spec(32, 3000, shift=2.0)))
    c.append(ks_case("n10000_9999", spec(33, 10000), spec(34, 9999)))
    c.append(ks_case("n10000_9999_shift", spec(33, 10000), spec(34, 9999, shift=2.0)))
    c.append(ks_case("n5000_10000_shift", spec(35, 5000), spec(36, 10000, shift=4.0)))
    c.append(ks_case("n7_10000", spec(37, 7), spec(38, 10000)))
    c.append(ks_case("n9500_9480", spec(39, 9500), spec(40, 9480, shift=0.5)))
    # asymptotic: max(n1, n2) > 10000
    c.append(ks_case("asymp_10001_10001", spec(41, 10001), spec(42, 10001)))
    c.append(ks_case("asymp_10001_5000_shift", spec(43, 10001), spec(44, 5000, shift=1.0)))
    c.append(ks_case("asymp_20000_15000", spec(45, 20000), spec(46, 15000, shift=0.25)))
    c.append(ks_case("asymp_20000_15000_underflow", spec(45, 20000), spec(46, 15000, shift=20.0)))
    c.append(ks_case("asymp_1_20000", spec(47, 1), spec(48, 20000)))
    c.append(ks_case("asymp_30_20000", spec(49, 30), spec(50, 20000)))
    c.append(ks_case("asymp_100_12000_shift", spec(51, 100), spec(52, 12000, shift=3.0)))
    c.append(ks_case("asymp_200_15000", spec(53, 200), spec(54, 15000)))
    c.append(ks_case("asymp_ties_r4", spec(55, 30000, r=4, terms=1, scale=1.0),
                     spec(56, 20000, r=4, terms=1, scale=1.0)))
    c.append(ks_case("asymp_disjoint", spec(57, 12000), spec(58, 11000, shift=500.0)))
    # exact equal-size sums that land just above 1: scipy falls back to kstwo
    for n in (5, 7, 15, 36):
        c.append(ks_case("fallback_%d_%d" % (n, n), spec(0, n, r=0, scale=1.0),
                         spec(0, n, r=0, scale=1.0, shift=2.0 ** -20)))
    # many small and middling random pairs, with and without ties
    rng = np.random.default_rng(2024)
    for t in range(120):
        n1 = int(rng.integers(1, 400)) if t % 3 else int(rng.integers(1, 12))
        n2 = int(rng.integers(1, 400)) if t % 4 else n1
        r = int(rng.choice([2, 5, 40, 1 << 30]))
        sh = float(rng.choice([0.0, 0.125, 1.0, 8.0])) * (r if r < 100 else 2.0 ** 6) / 8
        c.append(ks_case("random_%d" % t, spec(1000 + t, n1, r=r, terms=1, scale=2.0 ** -24 if r > 100 else 1.0),
                         spec(2000 + t, n2, r=r, terms=1, scale=2.0 ** -24 if r > 100 else 1.0, shift=sh)))
    c.append(ks_case("asymp_250000_250000", spec(59, 250000), spec(60, 250000, shift=0.01)))
    return c


def kstwo_cases():
    out = []
    for n in [1, 2, 3, 5, 10, 50, 100, 140, 141, 200, 1000, 5000, 20000, 100000, 100001, 500000, 2000000]:
        xs = {0.5 / n, 0.5 / n * 1.0001, 0.75 / n, 1.0 / n, 1.5 / n, 0.5, 0.7, 0.999, 1.0, 1 - 1.0 / n,
              1 - 0.5 / n, 1.2}
        for c in [0.1, 0.3, 0.5, 0.754, 0.76, 1.0, 1.5, 2.1, 2.3, 3.9, 4.1, 10.0, 17.0, 19.0, 100.0, 369.0, 371.0]:
            xs.add(math.sqrt(c / n))
        xs.add((1.4 / n) ** (2.0 / 3) * 0.999)
        xs.add((1.4 / n) ** (2.0 / 3) * 1.001)
        for x in sorted(xs):
            if 0 < x <= 1.5:
                out.append({"n": n, "x": x, "sf": num(stats.kstwo.sf(x, n))})
    return out


def kolmogorov_cases():
    xs = [0.0, 0.01, 0.0406, 0.0407, 0.05, 0.1, 0.3, 0.5, 0.8, 0.82, 0.8200001, 0.9, 1.0, 1.36, 2.0, 3.0, 5.0,
          10.0, 27.0, 30.0]
    return [{"x": x, "sf": num(special.kolmogorov(x))} for x in xs]


def smirnov_cases():
    out = []
    for n in [1, 2, 5, 10, 100, 1000, 1013, 5000, 100000, 1000000, 1000001]:
        for x in [0.0, 0.3 / n, 1.0 / n, 2.5 / n, 0.01, 0.05, 0.1, 0.3, 0.5, 0.9, 1 - 1.0 / n, 1.0]:
            if 0 <= x <= 1:
                out.append({"n": n, "x": x, "sf": num(special.smirnov(n, x))})
    return out


def sturges_cases():
    out = []
    for lo, hi, n in [(0.0, 1.0, 1000), (0.0, 1.0, 1024), (-3.2, 4.7, 20000), (2.5, 2.5, 10), (-1e-300, 1e-300, 5),
                      (1.0, 1.0 + 2.0 ** -40, 33), (-7.0, 1e6, 1), (0.0, 5e-324 * 7, 100), (-1e307, 1e307, 3),
                      (0.1, 0.7, 2), (-0.0, 3.0, 17), (13.0, 17.0, 10 ** 6), (-5.5, -5.25, 64)]:
        data = np.array([lo, hi] + [lo] * (n - 2) if n >= 2 else [lo], dtype=np.float64)
        if n == 1:
            data = np.array([lo], dtype=np.float64)
            hi = lo
        e = np.histogram_bin_edges(data, bins="sturges")
        out.append({"min": lo, "max": hi, "n": n, "edges": [num(v) for v in e]})
    return out


def histogram_cases():
    out = []
    for sa, sb in [(spec(61, 500), spec(62, 700, shift=3.0)),
                   (spec(63, 2000, r=7, terms=1, scale=0.5), spec(64, 1500, r=9, terms=1, scale=0.5)),
                   (spec(65, 10000), spec(66, 10000)),
                   (spec(67, 3, r=1, terms=1, scale=1.0, shift=1.0), spec(68, 2, r=1, terms=1, scale=1.0, shift=1.0))]:
        a, b = sample(sa), sample(sb)
        comb = np.concatenate([a, b])
        edges = np.histogram_bin_edges(comb, bins="sturges")
        out.append({"a": sa, "b": sb, "edges": [num(v) for v in edges],
                    "a_counts": [int(v) for v in np.histogram(a, edges)[0]],
                    "b_counts": [int(v) for v in np.histogram(b, edges)[0]]})
    # explicit edges on the values themselves (ties on edges), and values outside
    a = sample(spec(69, 1000, r=10, terms=1, scale=1.0))
    for edges in ([0.0, 1.0, 2.0, 2.0, 5.0, 9.0], [2.0, 3.5, 7.0], [-1.0, 0.0], [9.0, 10.0]):
        out.append({"a": spec(69, 1000, r=10, terms=1, scale=1.0), "b": None, "edges": edges,
                    "a_counts": [int(v) for v in np.histogram(a, np.array(edges))[0]], "b_counts": None})
    return out


def fill_zeroes(p):
    p = p.copy()
    m = p[p != 0].min()
    np.place(p, p == 0, m / 10 ** 6 if m <= 0.0001 else 0.0001)
    return p


def counts_case(name, rc, cc):
    rc = np.array(rc, dtype=np.int64)
    cc = np.array(cc, dtype=np.int64)
    nr, nc = int(rc.sum()), int(cc.sum())
    rp, cp = rc / nr, cc / nc
    rpf, cpf = fill_zeroes(rp), fill_zeroes(cp)
    d = {"name": name, "ref": [int(v) for v in rc], "cur": [int(v) for v in cc]}
    d["psi"] = num(np.sum((rpf - cpf) * np.log(rpf / cpf)))
    d["kl"] = num(stats.entropy(rpf, cpf))
    d["js"] = num(distance.jensenshannon(rp, cp))
    if len(rc) >= 2 and not np.any((rc == 0) & (cc == 0)):
        k_norm = nc / nr
        f_exp = [int(v) * k_norm for v in rc]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = stats.chisquare([int(v) for v in cc], f_exp)
        d["chi2_evidently"] = {"statistic": num(r.statistic), "p_value": num(r.pvalue), "dof": len(rc) - 1}
    keep = (rc + cc) > 0
    table = np.array([rc[keep], cc[keep]])
    if table.shape[1] >= 2:
        stat, p, dof, _ = stats.chi2_contingency(table, correction=False)
    else:
        stat, p, dof = 0.0, 1.0, 0
    d["chi2_homogeneity"] = {"statistic": num(stat), "p_value": num(p), "dof": int(dof)}
    return d


def counts_cases():
    rng = np.random.default_rng(7)
    c = [counts_case("balanced", [100, 200, 300, 400], [110, 190, 310, 390]),
         counts_case("zero_in_cur", [50, 0, 30, 20], [40, 10, 0, 50]),
         counts_case("zero_in_ref_key", [500, 300, 0], [480, 310, 5]),
         counts_case("tiny_share", [1, 20000, 30000, 49999], [0, 25000, 25000, 50000]),
         counts_case("both_zero_key", [5, 0, 7], [6, 0, 8]),
         counts_case("one_key", [10], [20]),
         counts_case("two_keys", [3, 7], [9, 1]),
         counts_case("strong_drift", [1000, 10, 10], [10, 10, 1000]),
         counts_case("many_bins", [int(v) for v in rng.integers(0, 300, 300)],
                     [int(v) for v in rng.integers(0, 300, 300)]),
         counts_case("big_vector", [int(v) for v in rng.integers(1, 50, 9000)],
                     [int(v) for v in rng.integers(1, 50, 9000)])]
    return c


def z_case(k1, n1, k2, n2):
    if (k1 == 0 and k2 == 0) or (k1 == n1 and k2 == n2):
        return {"k1": k1, "n1": n1, "k2": k2, "n2": n2, "z": 0.0, "p_value": 1.0}
    p1, p2 = k1 / n1, k2 / n2
    pp = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pp * (1 - pp) * (1.0 / n1 + 1.0 / n2))
    p = float(2 * (1 - stats.norm.cdf(abs(z))))
    return {"k1": k1, "n1": n1, "k2": k2, "n2": n2, "z": num(z), "p_value": num(p)}


def z_cases():
    return [z_case(*t) for t in [(10, 100, 12, 100), (0, 50, 3, 70), (500, 1000, 450, 1000), (1, 2, 1, 2),
                                 (990, 1000, 900, 1000), (3, 1000, 400, 1000), (0, 10, 0, 20), (7, 7, 0, 9),
                                 (5000, 10000, 5100, 10000), (123, 1000, 100, 1000)]]


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    out = {
        "generated_by": "tests/stats/gen_stattest.py (do not edit; rerun it)",
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__},
        "sample_spec": "x_i = (sum_{t<terms} splitmix64(seed, i*terms + t) mod range) * scale + shift, "
                       "splitmix64(seed, j) = mix(seed + (j+1)*0x9E3779B97F4A7C15); then sorted ascending",
        "ks": ks_cases(),
        "kstwo": kstwo_cases(),
        "kolmogorov": kolmogorov_cases(),
        "smirnov": smirnov_cases(),
        "sturges": sturges_cases(),
        "histogram": histogram_cases(),
        "counts": counts_cases(),
        "z": z_cases(),
    }
    with open(os.path.join(root, "stattest_expected.json"), "w") as f:
        json.dump(out, f, indent=0, allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
