"""GET /metrics on `cairn server`: the Prometheus text format, checked by the real
parser (promtool) and scraped by a real Prometheus server whose query must return
the request counts the test made."""

import shutil
import subprocess

import pytest
import requests


def metric_lines(text, name):
    return [ln for ln in text.splitlines() if ln.startswith(name + "{") or ln.startswith(name + " ")]


def value(text, name, **labels):
    for ln in metric_lines(text, name):
        if all(f'{k}="{v}"' in ln for k, v in labels.items()):
            return float(ln.rsplit(" ", 1)[1])
    return None


def test_metrics_format_and_counts(server):
    s = server()
    for _ in range(7):
        assert s.api("GET", "experiments/search", params={"max_results": 5}).status_code == 200
    for i in range(3):
        assert requests.get(f"{s.url}/no/such/{i}", timeout=5).status_code == 404
    r = s.api("POST", "experiments/create", json={})  # missing name: 400
    assert r.status_code == 400
    m = requests.get(s.url + "/metrics", timeout=5)
    assert m.status_code == 200
    assert m.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    t = m.text
    assert value(t, "cairn_http_requests_total", route="/api/2.0/mlflow/experiments/search",
                 method="GET", status="200") == 7
    assert value(t, "cairn_http_requests_total", route="unmatched", status="404") == 3
    assert value(t, "cairn_http_requests_total", route="/api/2.0/mlflow/experiments/create",
                 status="400") == 1
    assert value(t, "cairn_http_request_duration_seconds_count",
                 route="/api/2.0/mlflow/experiments/search") == 7
    assert value(t, "cairn_http_request_duration_seconds_bucket",
                 route="/api/2.0/mlflow/experiments/search", le="+Inf") == 7
    assert value(t, "cairn_http_requests_in_flight") >= 1  # this request
    assert value(t, "cairn_store_pool_connections_max") == 257
    assert value(t, "cairn_store_write_lock_waits_total") is not None
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=m.content, capture_output=True)
        assert p.returncode == 0, p.stdout + p.stderr


def test_client_paths_do_not_create_series(server):
    s = server()
    sess = requests.Session()
    for i in range(300):
        sess.get(f"{s.url}/api/2.0/mlflow-artifacts/artifacts/x/{i}", timeout=5)
        sess.get(f"{s.url}/random/{i}", timeout=5)
    t = requests.get(s.url + "/metrics", timeout=5).text
    # routes are labelled by their pattern: two series, however many paths
    assert len(metric_lines(t, "cairn_http_requests_total")) <= 4, t[:2000]
    assert value(t, "cairn_http_requests_total", route="unmatched", status="404") == 300
    assert value(t, "cairn_http_requests_total", route="/api/2.0/mlflow-artifacts/artifacts/",
                 method="GET", status="404") == 300


def test_prometheus_scrapes_the_tracking_server(server, prometheus):
    s = server()
    for _ in range(25):
        assert s.api("GET", "experiments/search", params={"max_results": 1}).status_code == 200
    p = prometheus([f"127.0.0.1:{s.port}"])
    q = ('sum(cairn_http_requests_total{job="cairn",route="/api/2.0/mlflow/experiments/search",'
         'status="200"})')
    assert p.wait_value(q, 25) == 25, p.log()
    assert p.wait_value('up{job="cairn"}', 1) == 1
