"""Helpers shared by the integration tests (raw HTTP access, error-body checks)."""

import re
import time
import uuid

import requests


def unique_name(request, suffix=""):
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:80]
    return f"it-{base}{suffix}-{uuid.uuid4().hex[:8]}"



class RawApi:
    def __init__(self, base):
        self.base = base

    def url(self, path):
        if path.startswith("/"):
            return self.base + path
        return f"{self.base}/api/2.0/mlflow/{path}"

    def get(self, path, params=None, **kw):
        kw.setdefault("timeout", 20)
        return requests.get(self.url(path), params=params, **kw)

    def post(self, path, json=None, **kw):
        kw.setdefault("timeout", 20)
        return requests.post(self.url(path), json=json, **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 20)
        return requests.request(method, self.url(path), **kw)

    # convenience for building fixtures through the REST API
    def create_experiment(self, name):
        r = self.post("experiments/create", {"name": name})
        assert r.status_code == 200, r.text
        return r.json()["experiment_id"]

    def create_run(self, experiment_id, **fields):
        body = {"experiment_id": experiment_id, "start_time": int(time.time() * 1000)}
        body.update(fields)
        r = self.post("runs/create", body)
        assert r.status_code == 200, r.text
        return r.json()["run"]["info"]["run_id"]


def assert_error(resp, status, code=None):
    """`resp` is an MLflow JSON error with HTTP `status` and, if given, `error_code`."""
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error_code"), str) and body["error_code"], body
    assert isinstance(body.get("message"), str), body
    if code is not None:
        assert body["error_code"] == code, body
    return body
