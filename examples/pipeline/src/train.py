"""Train StandardScaler + LogisticRegression on data/prepared/train.csv and pickle it."""
import argparse
import os
import pickle

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, :-1], data[:, -1].astype(int)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--C", type=float, required=True)
    ap.add_argument("--max-iter", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    X, y = load(os.path.join(a.data, "train.csv"))
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=a.C, max_iter=a.max_iter, random_state=0))
    model.fit(X, y)

    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "wb") as f:
        pickle.dump(model, f, protocol=4)
    print(f"trained on {len(y)} rows (C={a.C}, max_iter={a.max_iter}), "
          f"train accuracy {model.score(X, y):.4f}")


if __name__ == "__main__":
    main()
