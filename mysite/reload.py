"""Development only (`make run`): the Huey consumer, started again when a ``.py`` file of the project changes.

``python -m mysite.reload`` runs ``manage.py run_huey`` in a child process and watches the project's packages
(watchfiles: inotify, not polling; ``.venv`` and ``var/`` are not watched). On a change the consumer gets SIGINT,
its graceful stop (workers finish their tasks, claimed work is given back at exit), and a new one starts with the
new code. A consumer that fails to start (a syntax error) is started again at the next change.

Ctrl-C reaches the consumer from the terminal (one process group): this process only waits for it. SIGTERM asks
this process to stop: it sends the consumer SIGINT and waits. Production (``deploy/``) runs ``manage.py run_huey``
itself and never reloads.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from watchfiles import PythonFilter, watch

BASE = Path(__file__).resolve().parent.parent

logger = logging.getLogger("mysite.reload")


def packages(base=BASE):
    """The project's Python packages (directories with an ``__init__.py``): where a code change happens."""
    return sorted(str(path) for path in base.iterdir() if (path / "__init__.py").is_file())


class Consumer:
    """One ``manage.py run_huey`` child at a time."""

    def __init__(self, command, stopping):
        self.command = command
        self.stopping = stopping  # an Event: set once Ctrl-C or SIGTERM came, so no new consumer starts
        self.process = subprocess.Popen(command)

    def restart(self, why):
        """Stop the running consumer gracefully (SIGINT), wait for it, then start a new one."""
        if self.process.poll() is None:
            logger.info("%s: restarting the consumer %s (it finishes its tasks first)", why, self.process.pid)
            self.stop()
        else:
            logger.info("%s: starting the consumer (the last one exited with %s)", why, self.process.returncode)
        if self.stopping.is_set():
            return
        self.process = subprocess.Popen(self.command)
        logger.info("consumer %s started", self.process.pid)

    def stop(self):
        """Ask the consumer for its graceful stop and wait for it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait()


def main(args=()):
    """Run the consumer, restart it on code changes until SIGINT or SIGTERM; exit with the consumer's status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(process)d: %(message)s")
    stop = threading.Event()
    terminated = threading.Event()
    # Set before the child starts: a Ctrl-C from now on stops the watch, never this process mid-restart.
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    signal.signal(signal.SIGTERM, lambda signum, frame: (terminated.set(), stop.set()))
    consumer = Consumer([sys.executable, str(BASE / "manage.py"), "run_huey", *args], stop)
    logger.info("consumer %s started; restarting it when a .py file changes under %s", consumer.process.pid, BASE)
    for changes in watch(*packages(), watch_filter=PythonFilter(), stop_event=stop, raise_interrupt=False):
        changed = sorted({os.path.relpath(path, BASE) for _, path in changes})
        consumer.restart(", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "") + " changed")
    if terminated.is_set():
        return consumer.stop()
    return consumer.process.wait()  # Ctrl-C: the terminal sent the consumer its SIGINT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
