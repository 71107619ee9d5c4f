"""Train the example's XGBoost regressor on data/train.csv (f0..f4 -> y).

Holds out every fifth row, writes MODEL/model.ubj, MODEL/features.csv (the training rows'
features: the signature and the training profile come from it) and METRICS (rmse and mae on
the holdout, the row counts). Deterministic for a given input and parameters.
"""
import argparse
import csv
import json
import os

import numpy as np
import xgboost as xgb


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--rounds", type=int, default=60)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    with open(a.data, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    feats = [c for c in header if c != "y"]
    X = np.array([[float(v) for v in r[:-1]] for r in body])
    y = np.array([float(r[-1]) for r in body])
    hold = np.arange(len(y)) % 5 == 0
    params = {"objective": "reg:squarederror", "max_depth": a.depth, "eta": 0.2, "seed": a.seed, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(X[~hold], label=y[~hold], feature_names=feats), a.rounds)
    pred = booster.predict(xgb.DMatrix(X[hold], feature_names=feats))
    err = pred - y[hold]

    os.makedirs(a.model, exist_ok=True)
    booster.save_model(os.path.join(a.model, "model.ubj"))
    with open(os.path.join(a.model, "features.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(feats)
        w.writerows(r[:-1] for r, h in zip(body, hold) if not h)
    metrics = {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
               "train_rows": int((~hold).sum()), "holdout_rows": int(hold.sum())}
    with open(a.metrics, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")
    print("rmse %.4f on %d holdout rows" % (metrics["rmse"], metrics["holdout_rows"]))


if __name__ == "__main__":
    main()
