"""Write scikit-learn's bundled breast-cancer dataset as a stratified train/test split.

Deterministic: the split depends only on --test-size and --seed, and floats are
written with repr(), so a rerun gives byte-identical CSVs.
"""
import argparse
import csv
import os

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


def write_csv(path, header, X, y):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row, label in zip(X, y):
            w.writerow([repr(float(v)) for v in row] + [int(label)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--test-size", type=float, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    ds = load_breast_cancer()  # bundled with scikit-learn: no download
    header = [n.replace(" ", "_") for n in ds.feature_names] + ["target"]
    X_tr, X_te, y_tr, y_te = train_test_split(
        ds.data, ds.target, test_size=a.test_size, random_state=a.seed, stratify=ds.target)

    os.makedirs(a.out, exist_ok=True)
    write_csv(os.path.join(a.out, "train.csv"), header, X_tr, y_tr)
    write_csv(os.path.join(a.out, "test.csv"), header, X_te, y_te)
    print(f"train: {len(y_tr)} rows, test: {len(y_te)} rows, {X_tr.shape[1]} features")


if __name__ == "__main__":
    main()
