"""Log XGBoost models with the unmodified MLflow client into a tracking server and register
them: python3 log_models.py TRACKING_URI NAME N_VERSIONS OUT.json

Version k is trained with k*3 trees on the same data (so versions predict differently);
OUT.json gets the held-out rows and each version's predictions (what pyfunc returns)."""
import json
import sys

import numpy as np
import xgboost as xgb

import mlflow
from mlflow.models import infer_signature

uri, name, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
mlflow.set_tracking_uri(uri)
rng = np.random.RandomState(7)
X = rng.normal(size=(400, 6)).round(4).astype(np.float32)
y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
cols = [f"x{i}" for i in range(6)]
import pandas as pd  # noqa: E402

df = pd.DataFrame(X, columns=cols).astype("float64")
test = df.iloc[:20]
result = {"columns": cols, "rows": test.values.tolist(), "versions": {}}
mlflow.set_experiment("serve-tests")
for k in range(1, n + 1):
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": 0, "nthread": 1},
                        xgb.DMatrix(df, label=y), num_boost_round=3 * k)
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(booster, name="model", registered_model_name=name,
                                        input_example=test.iloc[:3],
                                        signature=infer_signature(test, booster.predict(xgb.DMatrix(test))))
    pred = mlflow.pyfunc.load_model(info.model_uri).predict(test)
    result["versions"][str(k)] = [float(v) for v in pred]
json.dump(result, open(out, "w"))
