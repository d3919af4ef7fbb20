"""The Makefile as a new user runs it: `make setup` then manage.py commands, `make run PORT=...`, Ctrl-C."""

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from testing.poll import poll, port_answers
from testing.smtp import _free_port

BASE = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")]


def clean_env(**extra):
    """What a developer's shell has: no mysite variables (no DEBUG, no SECRET_KEY, no test settings)."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8", **extra}


@pytest.fixture
def clone(tmp_path):
    """The tracked files of this checkout, as `git clone` gives them, with the shared virtualenv."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=BASE, capture_output=True, check=True).stdout
    root = tmp_path / "mysite"
    for name in files.decode().split("\0"):
        if name and (BASE / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(BASE / name, root / name)
    (root / ".venv").symlink_to((BASE / ".venv").resolve())
    return root


def make(root, *args):
    # .venv/.runtime is the shared virtualenv's stamp: never reinstall it from a test.
    return ["make", "--no-print-directory", "-C", str(root), "-o", ".venv/.runtime", *args]


def test_a_fresh_clone_runs_manage_py_commands_as_the_readme_writes_them(clone):
    assert not (clone / ".env").exists()
    setup = subprocess.run(make(clone, "setup"), env=clean_env(), capture_output=True, text=True, timeout=300)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    env_file = (clone / ".env").read_text()
    assert "DEBUG=true" in env_file.splitlines()
    assert stat.S_IMODE((clone / ".env").stat().st_mode) == 0o600  # it holds the secret key
    assert stat.S_IMODE((clone / "var").stat().st_mode) == 0o750  # created after the umask was set
    key = next(line.split("=", 1)[1] for line in env_file.splitlines() if line.startswith("SECRET_KEY="))
    assert len(key) >= 50

    created = subprocess.run(
        [
            ".venv/bin/python",
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "admin@example.com",
        ],
        cwd=clone,
        env=clean_env(DJANGO_SUPERUSER_PASSWORD="a-Long-pass-42"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    assert "Superuser created successfully" in created.stdout

    again = subprocess.run(make(clone, "setup"), env=clean_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and (clone / ".env").read_text() == env_file  # an existing .env is kept
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=BASE)
    assert ignored.returncode == 0, ".env must never be committed"


def test_without_a_env_file_a_missing_secret_key_still_stops_it(clone):
    refused = subprocess.run(
        [".venv/bin/python", "manage.py", "check"], cwd=clone, env=clean_env(), capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "SECRET_KEY is missing" in refused.stderr


def consumer_started(database):
    """The consumer's heartbeat row: its signal handlers are in place once its workers run."""
    try:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT count(*) FROM operations_heartbeat").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def test_make_run_takes_a_port_and_ctrl_c_stops_it_cleanly(tmp_path):
    port = _free_port("127.0.0.1")
    env = clean_env(
        DEBUG="true",
        SECRET_KEY="make-run-test-not-a-secret",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    # Its own session: SIGINT to the process group is what a terminal's Ctrl-C does. As in a terminal, SIGINT is not
    # ignored and stdin is not a pipe of pytest's: a pytest-xdist worker's own (execnet's channel, a disposition
    # left by an earlier test) reached make run there, and runserver sat through the Ctrl-C.
    run = subprocess.Popen(
        make(BASE, "-o", ".env", "run", f"PORT={port}"),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert poll(lambda: port_answers(port) or run.poll() is not None, timeout=120, interval=0.2)
        assert run.poll() is None, run.stdout.read()
        assert poll(lambda: consumer_started(tmp_path / "db.sqlite3"), timeout=60, interval=0.2)
        os.killpg(run.pid, signal.SIGINT)
        output, _ = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    # make dies of the SIGINT it got, as any interrupted command does, after both children ended cleanly.
    assert run.returncode == -signal.SIGINT, output[-2000:]
    assert "Segmentation fault" not in output and "Error" not in output and "Terminated" not in output
    assert "Consumer exiting." in output
    assert not port_answers(port)


def consumer_pids(database):
    """The pids of every consumer that has written a heartbeat, in start order."""
    try:
        with sqlite3.connect(database) as db:
            return [pid for (pid,) in db.execute("SELECT pid FROM operations_heartbeat ORDER BY started_at")]
    except sqlite3.Error:
        return []


def page(port, path):
    """The body of ``path`` on the site, or None while it does not answer 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


def test_make_run_reloads_the_site_and_the_consumer_when_code_changes(clone, tmp_path):
    port = _free_port("127.0.0.1")
    database = tmp_path / "db.sqlite3"
    env = clean_env(
        DEBUG="true",
        SECRET_KEY="make-run-test-not-a-secret",
        DATABASE_URL=f"sqlite:///{database}",
        HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    # As at a terminal, and as test_make_run_takes_a_port_and_ctrl_c_stops_it_cleanly does: SIGINT at its default
    # and stdin not the pytest-xdist worker's. Without them, in the whole suite under xdist (3 runs of 3; alone it
    # passes), make run sat through the Ctrl-C below for 90 s: a shell cannot trap a signal ignored at its start.
    run = subprocess.Popen(
        make(clone, "-o", ".env", "run", f"PORT={port}"),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    threading.Thread(target=lambda: lines.extend(run.stdout), daemon=True).start()
    try:
        assert poll(lambda: port_answers(port) or run.poll() is not None, timeout=120, interval=0.2)
        assert poll(lambda: consumer_pids(database), timeout=60, interval=0.2), "".join(lines)
        [first] = consumer_pids(database)
        assert page(port, "/reloaded/") is None
        # A task is running when the code changes: the consumer finishes it before it restarts.
        marks = tmp_path / "marks"
        enqueue = f"from tests.durable_tasks import slow; slow.enqueue({str(marks)!r}, 4, 'reload')"
        shell = [".venv/bin/python", "manage.py", "shell", "-c", enqueue]
        subprocess.run(shell, cwd=clone, env=env, check=True, capture_output=True, timeout=120)
        assert poll(lambda: marks.exists() and "start" in marks.read_text(), timeout=60, interval=0.1)

        # A developer adds a page: one edit to a .py file, nothing restarted by hand.
        urls = clone / "mysite" / "urls.py"
        urls.write_text(
            urls.read_text() + "\nfrom django.http import HttpResponse  # noqa: E402\n\n"
            'urlpatterns.append(path("reloaded/", lambda request: HttpResponse("reloaded 42")))\n'
        )

        assert poll(lambda: page(port, "/reloaded/") == "reloaded 42", timeout=60, interval=0.3), "".join(lines)
        assert poll(lambda: len(consumer_pids(database)) == 2, timeout=60, interval=0.2), "".join(lines)
        assert consumer_pids(database)[0] == first
        assert f"mysite/urls.py changed: restarting the consumer {first}" in "".join(lines)
        assert marks.read_text().split() == ["start", "reload", str(first), "end", "reload", str(first)]

        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        run.wait(timeout=90)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    output = "".join(lines)
    assert run.returncode == -signal.SIGINT, output[-3000:]
    assert "Traceback" not in output and "Segmentation fault" not in output, output[-3000:]
    assert output.count("Consumer exiting.") == 2, output[-3000:]  # the reload's graceful stop, then Ctrl-C's
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM operations_heartbeat WHERE stopped_at IS NULL").fetchone()[0] == 0
    assert not port_answers(port)


def test_production_never_reloads():
    units = {path.name: path.read_text() for path in (BASE / "deploy").glob("mysite-*.service")}
    starts = [line for text in units.values() for line in text.splitlines() if line.startswith("ExecStart=")]
    assert any(line.endswith("manage.py run_huey") for line in starts) and any("gunicorn" in line for line in starts)
    assert not any("reload" in line or "runserver" in line for line in starts)
