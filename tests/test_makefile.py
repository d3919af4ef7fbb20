"""The Makefile as a new user runs it: `make setup` then manage.py commands, `make run PORT=...`, Ctrl-C."""

import os
import shutil
import signal
import sqlite3
import subprocess
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
        HUEY_STATS_PATH=str(tmp_path / "stats.sqlite3"),
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
