"""Start and stop the site under a real gunicorn on a free loopback port, for tests and benchmarks."""

import subprocess
import sys
import urllib.request
from pathlib import Path

from testing.consumer import BASE_DIR
from testing.poll import poll
from testing.smtp import _free_port


class Site:
    """``python -m gunicorn mysite.wsgi`` with ``env`` (a consumer-style environment); ``url`` once it answers."""

    def __init__(self, env, log_path, args=("--threads", "4")):
        self.env = env
        self.log_path = Path(log_path)
        self.args = list(args)
        self.port = _free_port("127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, timeout=30.0):
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            # Each request in the log too: a failed test's report ends with its last lines (testing.processes).
            [sys.executable, "-m", "gunicorn", "mysite.wsgi", "-b", f"127.0.0.1:{self.port}", "--access-logfile", "-"]
            + self.args,
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        poll(lambda: self.answers() or self.proc.poll() is not None, timeout, 0.05)
        if self.proc.poll() is not None or not self.answers():
            self.stop()
            raise RuntimeError(f"gunicorn did not answer at {self.url}:\n{self.log_path.read_text()[-3000:]}")
        return self

    def answers(self):
        try:
            urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
