#!/usr/bin/env python3
"""pyworker_models.py - the models tests/serve/pyworker.c serves through the Python worker pool,
saved with the unmodified MLflow client, and what MLflow's own scoring server answers for them.

    . tests/integration/mlflow_env.sh && $PY tests/serve/pyworker_models.py OUTDIR

Writes, under OUTDIR (a temporary folder: pickles depend on the installed scikit-learn, so
none of this is committed):
  sklearn/   mlflow.sklearn.save_model of a LogisticRegression with a signature (f0..f3, double)
  tricks/    a custom mlflow.pyfunc.PythonModel (columns action: string, arg: double) whose rows
             tell it what to do: "double" (answer 2 * arg), "raise", "exit" (os._exit(arg)),
             "segv" (SIGSEGV), "sleep" (arg seconds), "print" (to stdout); its load_context
             exits with status 3 when $CAIRN_PYWORKER_DIE_ON_LOAD names a file that exists
  broken/    a PythonModel whose class lives in a module that is gone at load time
  expected.json  {"columns", "rows", "predictions": what mlflow.pyfunc.load_model(dir).predict
             gives for rows, "cases": {model: [...]}}

Each case is {"name", "content_type" (null: no header), "body", "status", "response_type",
"response"}: the answer of mlflow.pyfunc.scoring_server.init(model) - MLflow's FastAPI app with
its middleware and exception handling - called through ASGI in this process.
Exit status 3 when MLflow, pandas or scikit-learn cannot be imported.
"""
import asyncio
import json
import os
import sys

try:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from mlflow.pyfunc import scoring_server
except ImportError as e:
    print(f"pyworker_models.py: {e}", file=sys.stderr)
    sys.exit(3)


class Tricks(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        marker = os.environ.get("CAIRN_PYWORKER_DIE_ON_LOAD")
        if marker and os.path.exists(marker):
            os._exit(3)

    def predict(self, context, model_input, params=None):
        import signal
        import time

        out = []
        for action, arg in zip(model_input["action"], model_input["arg"]):
            if action == "raise":
                raise ValueError("the model was asked to raise")
            if action == "exit":
                os._exit(int(arg))
            if action == "segv":
                os.kill(os.getpid(), signal.SIGSEGV)
            if action == "sleep":
                time.sleep(arg)
            if action == "print":
                print("hello from the model on stdout")
            out.append(2.0 * arg)
        return out


async def asgi_post(app, content_type, body):
    headers = [(b"content-type", content_type.encode())] if content_type is not None else []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/invocations", "raw_path": b"/invocations", "query_string": b"",
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    pending = [{"type": "http.request", "body": body.encode(), "more_body": False}]
    got = {"body": b""}

    async def receive():
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()  # a client that stays connected until the answer

    async def send(msg):
        if msg["type"] == "http.response.start":
            got["status"] = msg["status"]
            got["type"] = dict(msg["headers"]).get(b"content-type", b"").decode()
        elif msg["type"] == "http.response.body":
            got["body"] += msg.get("body", b"")

    try:
        await app(scope, receive, send)
    except Exception:
        pass  # Starlette sends its 500 and raises again
    return got


def cases_for(model_dir, bodies):
    app = scoring_server.init(mlflow.pyfunc.load_model(model_dir))
    out = []
    for name, ctype, body in bodies:
        got = asyncio.run(asgi_post(app, ctype, body))
        out.append({"name": name, "content_type": ctype, "body": body, "status": got["status"],
                    "response_type": got["type"], "response": got["body"].decode()})
    return out


def main():
    outdir = sys.argv[1]
    rng = np.random.RandomState(11)
    cols = ["f0", "f1", "f2", "f3"]
    X = pd.DataFrame(rng.normal(size=(200, 4)).round(3), columns=cols)
    y = (X["f0"] + 0.5 * X["f1"] - X["f2"] * X["f3"] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    test = X.iloc[:5]
    mlflow.sklearn.save_model(clf, os.path.join(outdir, "sklearn"),
                              signature=infer_signature(test, clf.predict(test)))
    sk_dir = os.path.join(outdir, "sklearn")
    pred = mlflow.pyfunc.load_model(sk_dir).predict(test)

    tricks = pd.DataFrame({"action": ["double"], "arg": [1.5]})
    mlflow.pyfunc.save_model(os.path.join(outdir, "tricks"), python_model=Tricks(),
                             signature=infer_signature(tricks, [3.0]))

    gone = os.path.join(outdir, "gone_module")
    os.makedirs(gone, exist_ok=True)
    with open(os.path.join(gone, "cairn_pyworker_gone.py"), "w") as f:
        f.write("import mlflow.pyfunc\n\nclass Gone(mlflow.pyfunc.PythonModel):\n"
                "    def predict(self, context, model_input, params=None):\n        return model_input\n")
    sys.path.insert(0, gone)
    import cairn_pyworker_gone

    mlflow.pyfunc.save_model(os.path.join(outdir, "broken"), python_model=cairn_pyworker_gone.Gone())
    os.remove(os.path.join(gone, "cairn_pyworker_gone.py"))

    rows = test.values.tolist()
    split = json.dumps({"dataframe_split": {"columns": cols, "data": rows}})
    records = json.dumps({"dataframe_records": test.to_dict(orient="records")})
    csv = test.to_csv(index=False)
    sk_bodies = [
        ("dataframe_split", "application/json", split),
        ("dataframe_records", "application/json", records),
        ("instances", "application/json", json.dumps({"instances": test.to_dict(orient="records")})),
        ("inputs", "application/json", json.dumps({"inputs": {c: test[c].tolist() for c in cols}})),
        ("csv", "text/csv", csv),
        ("charset", "application/json; charset=utf-8", split),
        ("extra_column", "application/json",
         json.dumps({"dataframe_split": {"columns": cols + ["zz"], "data": [r + [1.0] for r in rows]}})),
        ("params_ignored", "application/json",
         json.dumps({"dataframe_split": {"columns": cols, "data": rows}, "params": {"k": 1}})),
        ("missing_column", "application/json",
         json.dumps({"dataframe_split": {"columns": cols[:3], "data": [r[:3] for r in rows]}})),
        ("string_in_double", "application/json",
         json.dumps({"dataframe_split": {"columns": cols, "data": [["x", 1.0, 2.0, 3.0]]}})),
        ("bad_json", "application/json", '{"dataframe_split": '),
        ("two_formats", "application/json",
         json.dumps({"dataframe_split": {"columns": cols, "data": rows}, "instances": [1]})),
        ("no_format", "application/json", json.dumps({"data": rows})),
        ("text_plain", "text/plain", split),
        ("latin1", "application/json; charset=latin-1", split),
        ("unknown_parameter", "application/json; format=pandas-split", split),
        ("no_content_type", None, split),
    ]
    tricks_bodies = [
        ("double", "application/json",
         json.dumps({"dataframe_split": {"columns": ["action", "arg"], "data": [["double", 1.5], ["double", -2]]}})),
        ("raise", "application/json",
         json.dumps({"dataframe_split": {"columns": ["action", "arg"], "data": [["raise", 0]]}})),
        ("print", "application/json",
         json.dumps({"dataframe_split": {"columns": ["action", "arg"], "data": [["print", 4]]}})),
    ]
    expected = {
        "columns": cols,
        "rows": rows,
        "predictions": [int(v) for v in pred],
        "cases": {"sklearn": cases_for(sk_dir, sk_bodies),
                  "tricks": cases_for(os.path.join(outdir, "tricks"), tricks_bodies)},
    }
    tmp = os.path.join(outdir, "expected.json.tmp")
    with open(tmp, "w") as f:
        json.dump(expected, f, indent=1)
    os.rename(tmp, os.path.join(outdir, "expected.json"))


if __name__ == "__main__":
    main()
