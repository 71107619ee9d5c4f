"""A tiny tracking server that lies, for `cairn models download`'s robustness tests.

    python3 lying_server.py PORT MODE

It answers just enough of MLflow's REST API for models:/evil@prod and
mlflow-artifacts:/evil (registered-models/alias, model-versions/get-download-uri,
the mlflow-artifacts listing and downloads), and lies the way MODE says:

  dotdot   the listing names ../escape.txt next to MLmodel
  nested   the listing names sub/../../escape.txt
  absolute the listing names /tmp/escape-<port>.txt
  dotdir   the listing names a directory ".." holding escape.txt
  size     MLmodel is listed with 3 bytes but is 5 long
  die      big.bin (4 MB) is cut off after 512 KiB: the process exits mid-reply
  slow     big.bin trickles 64 KiB every 0.2 s (for killing the client mid-download)
  ok       tells the truth (MLmodel and big.bin)

Every path it names, escaping or not, is also served, so a client that followed a
lie would write the file.
"""

import json
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
MODE = sys.argv[2]
BIG = 4_000_000
MLMODEL = b"flavors: {}\n"[:5]  # 5 bytes


def listing(path):
    files = {
        "dotdot": [("MLmodel", 5), ("../escape.txt", 5)],
        "nested": [("MLmodel", 5), ("sub/../../escape.txt", 5)],
        "absolute": [("MLmodel", 5), (f"/tmp/escape-{PORT}.txt", 5)],
        "size": [("MLmodel", 3)],
    }
    if path == "evil":
        if MODE == "dotdir":
            return [{"path": "MLmodel", "is_dir": False, "file_size": 5}, {"path": "..", "is_dir": True}]
        if MODE in files:
            return [{"path": p, "is_dir": False, "file_size": n} for p, n in files[MODE]]
        return [{"path": "MLmodel", "is_dir": False, "file_size": 5},
                {"path": "big.bin", "is_dir": False, "file_size": BIG}]
    if path == "evil/.." and MODE == "dotdir":
        return [{"path": "escape.txt", "is_dir": False, "file_size": 5}]
    return []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        p = u.path
        if p == "/health":
            return self.json({})
        if p == "/api/2.0/mlflow/registered-models/alias":
            if q.get("name") != "evil" or q.get("alias") != "prod":
                return self.json({"error_code": "INVALID_PARAMETER_VALUE",
                                  "message": f"Registered model alias {q.get('alias')} not found."}, 400)
            return self.json({"model_version": {"name": "evil", "version": "1", "run_id": "",
                                                "source": "mlflow-artifacts:/evil"}})
        if p == "/api/2.0/mlflow/model-versions/get-download-uri":
            return self.json({"artifact_uri": "mlflow-artifacts:/evil"})
        if p == "/api/2.0/mlflow-artifacts/artifacts":
            files = listing(q.get("path", ""))
            return self.json({"files": files} if files else {})
        prefix = "/api/2.0/mlflow-artifacts/artifacts/"
        if p.startswith(prefix):
            name = urllib.parse.unquote(p[len(prefix):])
            if name.endswith("/big.bin") or name == "big.bin":
                return self.big()
            body = MLMODEL if name.endswith("MLmodel") else b"owned"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.json({"error_code": "ENDPOINT_NOT_FOUND", "message": "no such endpoint"}, 404)

    def big(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(BIG))
        self.end_headers()
        chunk = b"x" * 65536
        sent = 0
        while sent < BIG:
            n = min(len(chunk), BIG - sent)
            self.wfile.write(chunk[:n])
            self.wfile.flush()
            sent += n
            if MODE == "die" and sent >= 512 * 1024:
                os._exit(3)  # the server dies mid-reply
            if MODE == "slow":
                time.sleep(0.2)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
