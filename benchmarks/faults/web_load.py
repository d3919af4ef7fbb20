"""Scenario 4: 50 requests a second for a minute against gunicorn while the consumer drains on SQLite.

The mix writes as much as it reads: password-reset POSTs (each an outbox row and a wake-up),
a sign-up a second (a user, a session, an outbox row), home and login pages. Counts 5xx
answers and "database is locked" in the server's and the consumer's logs.
"""

import http.client
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from benchmarks import rig
from benchmarks.faults.common import Result, fresh, queue_mail, statuses
from benchmarks.stats import percentile


class Site:
    """gunicorn serving mysite on a free loopback port (gthread workers)."""

    def __init__(self, work):
        from testing.smtp import _free_port

        self.port = _free_port("127.0.0.1")
        self.log_path = work / "gunicorn.log"
        cmd = [sys.executable, "-m", "gunicorn", "mysite.wsgi", "-b", f"127.0.0.1:{self.port}"]
        cmd += [
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "8",
            "--error-logfile",
            str(self.log_path),
            "--log-level",
            "info",
        ]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        # One client stands for many here: without this, the rate limits (issue 12) would answer most of the
        # mix's resets and sign-ups 429 and the scenario would no longer write an outbox row per request.
        env = {**os.environ, "RATE_LIMITS_ENABLED": "false"}
        self.proc = subprocess.Popen(cmd, cwd=rig.BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        rig.wait_for(self._answers, timeout=30)

    def _answers(self):
        try:
            return self.request("GET", "/accounts/login/")[0] == 200
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.getheader("Set-Cookie") or "", response.read()
        finally:
            conn.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self._log.close()


def run(work, sink, rate, seconds, backlog):
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User

    result = Result(f"4. {rate} requests/s for {seconds} s while draining (SQLite)")
    fresh(work, "web")
    sink.reset()
    password = make_password("a-Long-pass-42")
    User.objects.bulk_create(
        User(username=f"user{i}", email=f"user{i}@example.com", password=password) for i in range(200)
    )
    queue_mail("backlog", backlog)
    sink.delay(0.005)  # a relay a little slower than loopback keeps the consumer writing all minute
    consumer = rig.start_consumer(work, sink.url, "web")
    site = Site(work)
    status, cookie, _ = site.request("GET", "/accounts/signup/")
    token = re.search(r"csrftoken=([^;]+)", cookie).group(1)
    form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={token}"}
    signups = iter(range(10**6))

    def one(kind):
        if kind == "reset":
            body = urlencode({"email": f"user{random.randrange(200)}@example.com", "csrfmiddlewaretoken": token})
            return site.request("POST", "/accounts/password_reset/", body, form_headers)[0]
        if kind == "signup":
            n = next(signups)
            fields = {"username": f"load{n}", "email": f"load{n}@example.com", "password1": "a-Long-pass-42"}
            body = urlencode({**fields, "password2": fields["password1"], "csrfmiddlewaretoken": token})
            return site.request("POST", "/accounts/signup/", body, form_headers)[0]
        return site.request("GET", "/" if kind == "home" else "/accounts/login/")[0]

    mix = ["reset"] * 20 + ["home"] * 18 + ["login"] * 11 + ["signup"]  # per 50 requests
    codes, latencies, errors, lock = Counter(), [], Counter(), threading.Lock()

    def fire(kind):
        t = time.perf_counter()
        try:
            code = one(kind)
        except OSError as exc:
            with lock:
                errors[type(exc).__name__] += 1
            return
        with lock:
            codes[code] += 1
            latencies.append(time.perf_counter() - t)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(rate * seconds):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(fire, mix[i % len(mix)])
    elapsed = time.monotonic() - started
    sink.delay(0)
    drained = rig.wait_for(lambda: set(statuses()) == {"sent"}, timeout=120, interval=0.5)
    site.stop()
    consumer.stop()
    logs = site.log_path.read_text(errors="replace") + consumer.log()
    locked = logs.count("database is locked")
    fivexx = sum(n for code, n in codes.items() if code >= 500)
    result.figures = {
        "requests": sum(codes.values()) + sum(errors.values()),
        "achieved rate (req/s)": round((sum(codes.values()) + sum(errors.values())) / elapsed, 1),
        "status codes": dict(sorted(codes.items())),
        "connection errors": dict(errors),
        "latency p50 / p95 (ms)": f"{percentile(latencies, 50) * 1000:.0f} / {percentile(latencies, 95) * 1000:.0f}",
        "5xx": fivexx,
        '"database is locked" in logs': locked,
        "e-mails drained meanwhile": sink.count(),
        "outbox rows all sent afterwards": bool(drained),
    }
    result.check(fivexx == 0, f"{fivexx} answers were 5xx")
    result.check(locked == 0, f'"database is locked" {locked} times in the logs')
    result.check(not errors, f"connection errors: {dict(errors)}")
    result.check(bool(drained), f"outbox not drained: {dict(statuses())}")
    return result
