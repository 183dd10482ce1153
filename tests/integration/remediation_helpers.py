"""Helpers of the remediation tests: seeded host files, checksums, and a real webhook on loopback."""

import hashlib
import json
import os
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MIB = 1024 * 1024


def boot_id():
    with open("/proc/sys/kernel/random/boot_id") as handle:
        return handle.read().strip()


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_history(path, boot, series, start, per_hour, count=8, every_hours=1.0):
    """Write ``count`` samples of one growing series, the newest a minute ago, in the
    compact form meminfo_facts keeps (docs/trend.md): what earlier runs would have left."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    newest = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    with open(path, "w") as handle:
        for index in range(count):
            age = (count - 1 - index) * every_hours
            sample = {"v": 1, "t": stamp(newest - timedelta(hours=age)), "boot": boot,
                      "s": {series: int(start + per_hour * every_hours * index)}}
            handle.write(json.dumps(sample, sort_keys=True, separators=(",", ":")) + "\n")


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def digest(path):
    """sha256 of a file, or None when it does not exist."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def dpkg_list():
    """The installed packages as `dpkg -l` prints them (the package state a patch would change)."""
    return subprocess.run(["dpkg", "-l"], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout


class Webhook(object):
    """A ticket receiver on 127.0.0.1: one ticket per Idempotency-Key, optional failures first.

    ``fail_first`` POSTs get HTTP ``fail_status`` (``fail_first=-1``: every POST fails).
    Every request is kept (headers and JSON body) for the assertions.
    """

    def __init__(self, fail_first=0, fail_status=500):
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.requests = []
        self.tickets = {}
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with hook.lock:
                    hook.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                                          "body": json.loads(raw.decode("utf-8"))})
                    failing = hook.fail_first < 0 or len(hook.requests) <= hook.fail_first
                    key = self.headers.get("Idempotency-Key")
                    if failing:
                        status, answer = hook.fail_status, {"error": "ticket system unavailable"}
                    elif key in hook.tickets:
                        status, answer = 200, {"ticket": hook.tickets[key], "duplicate": True}
                    else:
                        hook.tickets[key] = "TCK-%d" % (len(hook.tickets) + 1)
                        status, answer = 201, {"ticket": hook.tickets[key]}
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hooks/memleak" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
