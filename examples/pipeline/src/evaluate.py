"""Score the pickled model on the test split: metrics.json and the ROC curve as CSV."""
import argparse
import json
import os
import pickle

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score, roc_curve


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--roc", required=True)
    a = ap.parse_args()

    with open(a.model, "rb") as f:
        model = pickle.load(f)
    data = np.loadtxt(a.test, delimiter=",", skiprows=1)
    X, y = data[:, :-1], data[:, -1].astype(int)

    proba = model.predict_proba(X)[:, 1]
    pred = (proba >= 0.5).astype(int)
    metrics = {
        "accuracy": round(float(accuracy_score(y, pred)), 6),
        "roc_auc": round(float(roc_auc_score(y, proba)), 6),
        "f1": round(float(f1_score(y, pred)), 6),
    }
    with open(a.metrics, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")

    fpr, tpr, thr = roc_curve(y, proba)
    os.makedirs(os.path.dirname(a.roc) or ".", exist_ok=True)
    with open(a.roc, "w") as f:
        f.write("fpr,tpr,threshold\n")
        for x0, y0, t in zip(fpr, tpr, thr):
            f.write(f"{x0:.6f},{y0:.6f},{min(float(t), 1.0):.6f}\n")
    print(" ".join(f"{k}={v}" for k, v in metrics.items()))


if __name__ == "__main__":
    main()
