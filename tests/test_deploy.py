"""deploy/: the consumer unit stops Huey gracefully, so an e-mail on the wire ends `sent`; backups are consistent."""

import configparser
import json
import os
import shlex
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.core.mail import send_mail

from notifications.models import Message
from testing.plugin import wait_until
from testing.poll import port_answers
from testing.smtp import _free_port

BASE = Path(__file__).resolve().parent.parent
DEPLOY = BASE / "deploy"


def unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(DEPLOY / name)
    return parser


def test_the_consumer_unit_waits_longer_than_hueys_shutdown_timeout():
    service = unit("mysite-consumer.service")["Service"]

    assert service["KillSignal"] == "SIGINT"  # Huey's graceful signal (its default graceful_signal='INT')
    assert service["KillMode"] == "mixed"
    assert float(service["TimeoutStopSec"]) > settings.HUEY["consumer"]["shutdown_timeout"]
    assert service["ExecStart"].endswith("manage.py run_huey")


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_stopping_the_consumer_as_systemd_does_finishes_the_email_on_the_wire(start_consumer, smtp_server):
    kill_signal = signal.Signals[unit("mysite-consumer.service")["Service"]["KillSignal"]]
    timeout = float(unit("mysite-consumer.service")["Service"]["TimeoutStopSec"])
    consumer = start_consumer(smtp_server.url)
    smtp_server.slow_down(3)

    send_mail("In flight", "Body", "from@example.com", ["to@example.com"])
    wait_until(lambda: smtp_server.handler.data_attempts == 1, message="the message to be on the wire")
    returncode = consumer.stop(kill_signal, timeout=timeout)

    assert returncode == 0
    assert [m.subject for m in smtp_server.messages] == ["In flight"]
    assert list(Message.objects.values_list("status", flat=True)) == ["sent"]
    assert "All workers have stopped" in consumer.log()


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_sigterm_cuts_the_send_short_and_the_outbox_knows(start_consumer, smtp_server):
    """Why the unit sends SIGINT: Huey's SIGTERM is its immediate stop. The row stays `sending`, not lost."""
    consumer = start_consumer(smtp_server.url)
    smtp_server.slow_down(3)

    send_mail("Cut short", "Body", "from@example.com", ["to@example.com"])
    wait_until(lambda: smtp_server.handler.data_attempts == 1, message="the message to be on the wire")
    consumer.stop(signal.SIGTERM, timeout=10)

    assert list(Message.objects.values_list("status", flat=True)) == ["sending"]
    smtp_server.slow_down(0)
    start_consumer(smtp_server.url)  # recovers the rows of a consumer of this host that is gone
    wait_until(lambda: Message.objects.filter(status="sent").count() == 1, message="the row to be sent")


@pytest.mark.consumer
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_stop_that_outlasts_the_shutdown_timeout_loses_nothing(start_consumer, smtp_server):
    """A send that outlasts HUEY_SHUTDOWN_TIMEOUT is cut: the rows of its batch not yet tried go back at exit, the one on
    the wire (and any sent but not yet recorded) stay `sending` (they may have gone), and the next consumer on this
    host sends them. (A stop between sends needs no timeout: the batch gives back what it holds.)"""
    for i in range(60):
        send_mail(f"long {i}", "Body", "from@example.com", ["to@example.com"])
    smtp_server.slow_down(0.2)
    consumer = start_consumer(smtp_server.url, HUEY_WORKERS=1, HUEY_SHUTDOWN_TIMEOUT=1, NOTIFICATIONS_BATCH_SIZE=20)
    wait_until(lambda: len(smtp_server.messages) >= 3, message="the drain to be under way")
    smtp_server.slow_down(5)  # the next send is on the wire longer than the shutdown timeout
    time.sleep(0.5)  # the 0.2 s send in flight, if any, is done
    wait_until(lambda: smtp_server.handler.data_attempts > len(smtp_server.messages), message="a slow send on the wire")

    consumer.stop(signal.SIGINT, timeout=15)

    assert "Shutdown timeout of 1.0s elapsed" in consumer.log()
    left = Counter(Message.objects.values_list("status", flat=True))
    assert left["sending"] > 0 and left["sent"] < 60
    assert 0 < left["sending"] <= 1 + settings.NOTIFICATIONS_RECORD_EVERY  # the untried: given back
    assert "claimed and not tried, given back at exit" in consumer.log()
    smtp_server.slow_down(0)
    start_consumer(smtp_server.url)
    wait_until(lambda: Message.objects.filter(status="sent").count() == 60, timeout=60, message="all 60 sent")
    arrived = Counter(m.subject for m in smtp_server.messages)
    # One worker: at most its group of sent-but-unrecorded e-mails goes twice (docs/operations.md).
    assert len(arrived) == 60 and sum(arrived.values()) - 60 <= settings.NOTIFICATIONS_RECORD_EVERY


def test_the_backup_is_a_consistent_copy_taken_while_writes_go_on(tmp_path):
    live = tmp_path / "var"
    live.mkdir()
    db = sqlite3.connect(live / "db.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER)")
    stop = threading.Event()

    def write():
        # Each transaction writes two rows whose sums cancel: any consistent snapshot sums to 0.
        writer = sqlite3.connect(live / "db.sqlite3", isolation_level=None, timeout=30)
        n = 0
        while not stop.is_set() and n < 20000:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("INSERT INTO t (a, b) VALUES (?, ?)", (n, -n))
            writer.execute("INSERT INTO t (a, b) VALUES (?, ?)", (-n, n))
            writer.execute("COMMIT")
            n += 1
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    wait_until(lambda: db.execute("SELECT count(*) FROM t").fetchone()[0] > 200, message="writes under way")
    result = subprocess.run(
        [sys.executable, DEPLOY / "backup-sqlite", live, tmp_path / "backups"], capture_output=True, text=True
    )
    stop.set()
    thread.join()

    assert result.returncode == 0, result.stderr
    [copy] = (tmp_path / "backups").glob("*/db.sqlite3")
    restored = sqlite3.connect(copy)
    count, total = restored.execute("SELECT count(*), sum(a) + sum(b) FROM t").fetchone()
    assert restored.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert count > 200 and count % 2 == 0 and total == 0


def production_env(tmp_path):
    """.env.example's values, with /srv/mysite moved to ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    for line in (BASE / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip().replace("/srv/mysite", str(tmp_path))
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    (tmp_path / "var").mkdir(exist_ok=True)
    return env


def answers(port):
    """True once something answers HTTP on ``port`` (any status)."""
    try:
        get(f"http://127.0.0.1:{port}/static/admin/css/base.css")
    except OSError:  # refused, reset, or no answer within get's timeout
        return False
    return True


def get(url, **headers):
    request = urllib.request.Request(url, headers={"Host": "mysite.example.com", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def web(tmp_path):
    """gunicorn started as deploy/mysite-web.service starts it, with .env.example's settings; yields its port."""
    env = production_env(tmp_path)
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=BASE, env=env, check=True, capture_output=True)
    service = unit("mysite-web.service")["Service"]
    argv = shlex.split(service["ExecStart"].replace("\\\n", " "))
    assert argv[0] == "/srv/mysite/app/.venv/bin/gunicorn"
    port = _free_port("127.0.0.1")
    argv = [str(Path(sys.executable).parent / "gunicorn"), *argv[1:]]
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    proc = subprocess.Popen(argv, cwd=BASE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    urllib.request.install_opener(urllib.request.build_opener(NoRedirect))
    try:
        # The master listens before its workers have loaded the site (seconds each on a busy machine): a first
        # request then waited past its own timeout. Ready is a worker's answer, whatever it says.
        wait_until(lambda: answers(port), timeout=90, interval=0.5, message="a gunicorn worker to answer")
        proc.port = port
        yield proc
    finally:
        urllib.request.install_opener(None)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_gunicorn_as_the_unit_starts_it_serves_the_site_with_production_settings(web):
    base = f"http://127.0.0.1:{web.port}"

    status, headers, body = get(f"{base}/static/admin/css/base.css", **{"X-Forwarded-Proto": "https"})
    assert status == 200 and headers["Content-Type"].startswith("text/css") and b"body" in body
    status, headers, _ = get(f"{base}/accounts/signup/")
    assert status == 301 and headers["Location"] == "https://mysite.example.com/accounts/signup/"
    status, _, body = get(f"{base}/health/")  # a monitor on the loopback: no redirect, status only
    assert status == 503 and json.loads(body) == {"status": "fail"}  # no consumer runs

    service = unit("mysite-web.service")["Service"]
    web.send_signal(signal.Signals[service["KillSignal"]])
    assert web.wait(float(service["TimeoutStopSec"])) == 0


@pytest.mark.slow
def test_the_nginx_sample_in_front_of_gunicorn_serves_https(web, tmp_path):
    if not shutil.which("nginx") or not shutil.which("openssl"):
        pytest.skip("nginx or openssl is not installed (apt-get install nginx-light openssl)")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=mysite.example.com",
         "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    http, https = _free_port("127.0.0.1"), _free_port("127.0.0.1")
    site = (DEPLOY / "nginx.conf").read_text()
    for old, new in [
        ("127.0.0.1:8000", f"127.0.0.1:{web.port}"),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("/etc/letsencrypt/live/mysite.example.com/fullchain.pem", str(tmp_path / "cert.pem")),
        ("/etc/letsencrypt/live/mysite.example.com/privkey.pem", str(tmp_path / "key.pem")),
        ("/var/log/nginx/", f"{tmp_path}/"),
    ]:
        assert old in site
        site = site.replace(old, new)
    site = "\n".join(line for line in site.splitlines() if "[::]" not in line)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; daemon off;\n"
        f"events {{}}\nhttp {{ access_log off; client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path};\n{site}\n}}\n"
    )
    nginx = subprocess.Popen(["nginx", "-c", tmp_path / "nginx.conf", "-p", tmp_path], stderr=subprocess.PIPE)
    try:
        wait_until(lambda: port_answers(https), timeout=10, message="nginx to listen")
        context = ssl.create_default_context(cafile=tmp_path / "cert.pem")
        context.check_hostname = False

        status, headers, _ = get(f"http://127.0.0.1:{http}/accounts/signup/")
        assert status == 301 and headers["Location"] == "https://mysite.example.com/accounts/signup/"
        request = urllib.request.Request(
            f"https://127.0.0.1:{https}/accounts/signup/", headers={"Host": "mysite.example.com"}
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            # Django saw https through X-Forwarded-Proto: no redirect, and the session cookie is Secure.
            assert response.status == 200
            assert "secure" in response.headers["Set-Cookie"].lower()
            assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")

        # limit_req (issue 12): a burst of admin log-in pages from one address is cut off by nginx itself.
        answers = []
        for _ in range(12):
            login = urllib.request.Request(
                f"https://127.0.0.1:{https}/admin/login/", headers={"Host": "mysite.example.com"}
            )
            try:
                with urllib.request.urlopen(login, context=context, timeout=10) as response:
                    answers.append(response.status)
            except urllib.error.HTTPError as exc:
                answers.append(exc.code)
        assert answers[0] == 200 and answers[-1] == 429, answers
    finally:
        nginx.terminate()
        nginx.wait(10)


@pytest.mark.parametrize("name", ["mysite-web.service", "mysite-consumer.service", "mysite-backup.service"])
def test_every_unit_creates_files_without_world_read(name):
    assert unit(name)["Service"]["UMask"] == "0027"


@pytest.mark.slow
def test_rate_limits_hold_across_the_gunicorn_workers_of_the_unit(web):
    """30 concurrent password resets from one client, spread over the unit's 3 workers: exactly 10 get through.

    The client's address comes from X-Forwarded-For because gunicorn's peer is the loopback proxy
    (.env.example trusts it); counts are shared in the database cache and incremented atomically.
    """
    import re
    import time
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlencode

    from django_ratelimit.core import _get_window

    # A client whose hourly window does not end during the test, so one window holds the whole flood.
    client = next(f"203.0.113.{n}" for n in range(1, 255) if _get_window(f"203.0.113.{n}/32", 3600) - time.time() > 300)
    base = f"http://127.0.0.1:{web.port}"
    status, headers, body = get(f"{base}/accounts/password_reset/", **{"X-Forwarded-Proto": "https"})
    assert status == 200
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1].decode()
    cookie = headers["Set-Cookie"].split(";")[0]

    def reset(n, address=client):
        request = urllib.request.Request(
            f"{base}/accounts/password_reset/",
            data=urlencode({"email": f"nobody{n}@example.com", "csrfmiddlewaretoken": token}).encode(),
            headers={
                "Host": "mysite.example.com",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": address,
                "Origin": "https://mysite.example.com",
                "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers.get("Retry-After")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Retry-After")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(reset, range(30)))

    codes = Counter(code for code, _ in answers)
    assert codes == {302: 10, 429: 20}, codes
    assert all(int(retry) > 0 for code, retry in answers if code == 429)
    assert reset(99, address="198.51.100.23")[0] == 302  # another client is not held back
