"""Train two XGBoost versions of a breast-cancer classifier with the unmodified MLflow client
and register them as `breast-cancer-xgb` (the demo serves them with `cairn serve`).

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python3 examples/demo/train_xgb.py
"""
import warnings

warnings.filterwarnings("ignore")

import mlflow  # noqa: E402
import xgboost as xgb  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X.columns = [c.replace(" ", "_") for c in X.columns]
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
mlflow.set_experiment("demo-xgb")
for rounds in (5, 50):
    with mlflow.start_run(run_name=f"xgb-{rounds}"):
        params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 0, "nthread": 1}
        booster = xgb.train(params, xgb.DMatrix(Xtr, label=ytr), num_boost_round=rounds)
        p = booster.predict(xgb.DMatrix(Xte))
        mlflow.log_params({**params, "rounds": rounds})
        mlflow.log_metric("auc", roc_auc_score(yte, p))
        mlflow.xgboost.log_model(booster, name="model", registered_model_name="breast-cancer-xgb",
                                 input_example=Xte.iloc[:2], signature=infer_signature(Xte, p))
        print(f"xgb-{rounds}: auc {roc_auc_score(yte, p):.4f}")
