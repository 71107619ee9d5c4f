#!/usr/bin/env python3
"""bench/drift_check.py CAIRN.json ANCHOR.json [-o OUT.json] - cairn drift's result against the anchor's.

Compares, per column the anchor lists: the column type, n_reference/n_current/n_unique, the selected
test and the column verdict; for every test the anchor reports, its verdict and the relative
difference of every number (statistic, score, wasserstein, norm, p_value, p_value_kolmogorov, dof);
the dataset's drifted-column count and verdict; and the columns each anchor test flags. Relative
difference: |a - b| / max(|a|, |b|), 0 when both are 0. p-values are reported apart from the
statistics (both sides may underflow to 0 at 1M rows). Prints one line; exit 0 when every verdict
agrees, 1 otherwise.
"""
import json
import sys


def rel(a, b):
    a, b = float(a), float(b)
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def main(argv):
    out = None
    if "-o" in argv:
        i = argv.index("-o")
        out = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    ours, ref = (json.load(open(p)) for p in argv[:2])
    mism = []   # verdicts: test choice, column/test/dataset verdicts, flagged columns
    other = []  # counts, types and bins
    stat = {"value": 0.0, "where": None}
    pval = {"value": 0.0, "where": None}
    nstat = npval = 0
    for col, rc in ref["columns"].items():
        oc = ours["columns"].get(col)
        if oc is None:
            mism.append("%s: missing" % col)
            continue
        for k in ("column_type", "n_reference", "n_current", "n_unique", "selected_test", "drift_detected"):
            if k in rc and oc.get(k) != rc[k]:
                (mism if k in ("selected_test", "drift_detected") else other).append("%s.%s: %r vs %r" % (col, k, oc.get(k), rc[k]))
        for t, rt in rc["tests"].items():
            ot = oc["tests"].get(t)
            if ot is None:
                mism.append("%s.%s: missing" % (col, t))
                continue
            if ot.get("drifted") != rt.get("drifted"):
                mism.append("%s.%s.drifted: %r vs %r" % (col, t, ot.get("drifted"), rt.get("drifted")))
            for k, v in rt.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or k == "threshold":
                    continue
                if k not in ot:
                    other.append("%s.%s.%s: missing" % (col, t, k))
                    continue
                r = rel(ot[k], v)
                acc = pval if k.startswith("p_value") else stat
                if k.startswith("p_value"):
                    npval += 1
                else:
                    nstat += 1
                if acc["where"] is None or r > acc["value"]:
                    acc["value"], acc["where"] = r, "%s.%s.%s" % (col, t, k)
        rb, ob = rc.get("binning"), oc.get("binning")
        if rb and ob:
            for k in ("kind", "reference_counts", "current_counts"):
                if k in rb and ob.get(k) != rb[k]:
                    other.append("%s.binning.%s differs" % (col, k))
    for k in ("number_of_drifted_columns", "dataset_drift"):
        if ours["dataset"].get(k) != ref["dataset"][k]:
            mism.append("dataset.%s: %r vs %r" % (k, ours["dataset"].get(k), ref["dataset"][k]))
    for t, cols in ref.get("flagged_by_test", {}).items():
        if sorted(ours.get("flagged_by_test", {}).get(t, [])) != sorted(cols):
            mism.append("flagged_by_test.%s: %r vs %r" % (t, ours.get("flagged_by_test", {}).get(t), cols))
    res = {"columns": len(ref["columns"]), "verdicts_agree": not mism, "verdict_mismatches": mism,
           "counts_and_bins_agree": not other, "other_mismatches": other,
           "drifted": ours["dataset"].get("number_of_drifted_columns"),
           "selected": ours.get("flagged_by_test", {}).get("selected"),
           "statistics_compared": nstat, "max_rel_diff_statistic": stat["value"], "max_rel_diff_statistic_at": stat["where"],
           "p_values_compared": npval, "max_rel_diff_p_value": pval["value"], "max_rel_diff_p_value_at": pval["where"]}
    print("%d columns: verdicts %s (%s drifted: %s), counts and bins %s; %d statistics, max rel diff %.3g (%s); "
          "%d p-values, max rel diff %.3g (%s)%s"
          % (res["columns"], "all agree" if not mism else "DIFFER (%d)" % len(mism), res["drifted"],
             ", ".join(res["selected"] or []), "agree" if not other else "DIFFER (%d)" % len(other),
             nstat, stat["value"], stat["where"], npval, pval["value"], pval["where"],
             "" if not (mism or other) else "; first: " + "; ".join((mism + other)[:6])))
    if out:
        json.dump(res, open(out, "w"), indent=1)
    return 0 if not mism else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
