"""Start, stop and kill a real ``manage.py run_huey`` process for tests and benchmarks."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url(settings_dict):
    """A DATABASE_URL for the database Django is connected to now (the test database, in tests)."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    if engine.endswith("postgresql"):
        user = settings_dict.get("USER") or ""
        password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{auth}{settings_dict.get('HOST') or 'localhost'}{port}/{settings_dict['NAME']}"
    raise ValueError(f"no DATABASE_URL form for {engine}")


def as_host(host):
    """The command prefix that runs a process under the host name ``host``: its own UTS namespace
    (``unshare --uts``, root; else inside a user namespace of its own), same network and pids as ours.
    ``exec`` keeps the pid: the process is the one ``Popen`` started."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"', host]


class Consumer:
    """One consumer process; its output goes to ``log_path``. With ``host``, it runs under that host name."""

    def __init__(self, env, log_path, args=(), host=None):
        self.env = env
        self.log_path = Path(log_path)
        self.args = list(args)
        self.host = host
        self.proc = None

    def start(self, wait=True, timeout=30.0):
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()/kill()
        self._mark = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [*(as_host(self.host) if self.host else []), sys.executable, "manage.py", "run_huey", *self.args],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            # Logged once Huey's signal handlers are in place (mysite.queue): a stop before then would not be graceful.
            self.wait_for_log(f"consumer {self.proc.pid} ready", timeout=timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text, timeout=30.0, since_start=True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            content = self.log_path.read_bytes()[self._mark if since_start else 0 :].decode(errors="replace")
            if text in content:
                return content
            if self.proc.poll() is not None:
                raise RuntimeError(f"consumer exited ({self.proc.returncode}) before {text!r}:\n{content[-3000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{text!r} not in the consumer log within {timeout} s:\n{self.log()[-3000:]}")

    def stop(self, sig=signal.SIGINT, timeout=30.0):
        """Graceful stop (SIGINT: finish what is in flight); kill if it does not stop in time."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()
        return self.proc.returncode

    def kill(self):
        """kill -9: the consumer gets no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self):
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None


def consumer_env(database, huey_url, email_url, **extra):
    """The environment for a consumer talking to ``database``/``huey_url``/``email_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE=env.get("DJANGO_SETTINGS_MODULE", "tests.settings"),
        DATABASE_URL=database,
        HUEY_URL=huey_url,
        EMAIL_URL=email_url,
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env
