#!/usr/bin/env python3
"""cairn demo: train a small real model with the unmodified MLflow client.

Trains scikit-learn's SGDClassifier on the breast-cancer dataset that ships with
scikit-learn, epoch by epoch, against whatever MLFLOW_TRACKING_URI points at
(`cairn server` in `make demo`). Logs params, per-epoch metrics, the dataset as
a run input, and the model through MLflow 3's log_model, registered in the model
registry (one version per run).
"""
import os
import warnings
import tempfile

import mlflow
import mlflow.data
import numpy as np
import pandas as pd
import mlflow.sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

EXPERIMENT = os.environ.get("CAIRN_DEMO_EXPERIMENT", "demo")
MODEL = os.environ.get("CAIRN_DEMO_MODEL", "breast-cancer")


def train(alpha, epochs=15, seed=0):
    data = load_breast_cancer(as_frame=True)
    df = data.frame
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=seed, stratify=data.target)
    scaler = StandardScaler().fit(X_train)
    X_train_s, X_test_s = scaler.transform(X_train), scaler.transform(X_test)

    with mlflow.start_run(run_name=f"sgd-alpha-{alpha}") as run:
        mlflow.log_params({"model": "SGDClassifier", "loss": "log_loss", "alpha": alpha,
                           "epochs": epochs, "seed": seed, "test_size": 0.25})
        dataset = mlflow.data.from_pandas(df, source="sklearn.datasets.load_breast_cancer",
                                          name="breast_cancer", targets="target")
        mlflow.log_input(dataset, context="training")
        clf = SGDClassifier(loss="log_loss", alpha=alpha, random_state=seed)
        classes = np.unique(y_train)
        for epoch in range(epochs):
            clf.partial_fit(X_train_s, y_train, classes=classes)
            proba = clf.predict_proba(X_test_s)[:, 1]
            mlflow.log_metrics({
                "train_loss": log_loss(y_train, clf.predict_proba(X_train_s)[:, 1]),
                "val_loss": log_loss(y_test, proba),
                "accuracy": accuracy_score(y_test, proba > 0.5),
                "auc": roc_auc_score(y_test, proba),
            }, step=epoch)
        # an MLflow model (MLmodel, pickle, environment) through the MLflow 3 logged-models
        # API, registered as a new version of MODEL in cairn's registry
        from sklearn.pipeline import make_pipeline
        pipeline = make_pipeline(scaler, clf)
        mlflow.sklearn.log_model(pipeline, name="model", registered_model_name=MODEL,
                                 input_example=X_test.iloc[:2])
        mlflow.log_dict({"features": list(data.feature_names)}, "features.json")
        mlflow.set_tag("demo", "true")
        return run.info.run_id


def main():
    warnings.filterwarnings("ignore")
    mlflow.set_experiment(EXPERIMENT)
    for alpha in (0.0001, 0.001, 0.01):
        run_id = train(alpha)
        print(f"logged run {run_id} (alpha={alpha})")


if __name__ == "__main__":
    main()
