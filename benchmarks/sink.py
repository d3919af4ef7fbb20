"""An SMTP sink on loopback in a process of its own, so it never competes for the caller's GIL.

It is ``testing.smtp.SMTPServer``; the parent asks it for counts and arrival times over a pipe.
"""

import multiprocessing
import re
from collections import Counter

SUBJECT = re.compile(rb"^Subject: (.*?)\r?$", re.M)


def _serve(conn, port):
    from testing.smtp import SMTPServer

    server = SMTPServer(port=port).start()
    handler = server.handler
    conn.send(server.port)
    while True:
        command, arg = conn.recv()
        with handler.lock:
            messages = list(handler.messages)
        if command == "count":
            conn.send(len(messages))
        elif command == "times":  # arrival times (epoch seconds) of messages[arg:]
            conn.send([m.at for m in messages[arg:]])
        elif command == "subjects":
            conn.send(Counter(_subject(m.data) for m in messages))
        elif command == "arrival":  # first arrival time of a subject, or None
            conn.send(next((m.at for m in messages if _subject(m.data) == arg), None))
        elif command == "reset":
            with handler.lock:
                handler.messages.clear()
            handler.data_attempts = 0
            conn.send(True)
        elif command == "delay":
            server.slow_down(arg)
            conn.send(True)
        elif command == "refuse_for":
            server.refuse_for(arg)
            conn.send(True)
        elif command == "attempts":
            conn.send(handler.data_attempts)
        elif command == "stop":
            server.stop()
            conn.send(True)
            return


def _subject(data):
    match = SUBJECT.search(data)
    return match.group(1).decode(errors="replace") if match else ""


class Sink:
    """``Sink().start()``; then ``count()``, ``times()``, ``subjects()``, ``refuse_for(s)``, ``delay(s)``."""

    def __init__(self, port=0):
        self.port = port
        self._parent, child = multiprocessing.get_context("spawn").Pipe()
        self._proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, port), daemon=True)

    def start(self):
        self._proc.start()
        self.port = self._parent.recv()
        return self

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def _ask(self, command, arg=None):
        self._parent.send((command, arg))
        return self._parent.recv()

    def count(self):
        return self._ask("count")

    def times(self, since=0):
        return self._ask("times", since)

    def subjects(self):
        return self._ask("subjects")

    def arrival(self, subject):
        return self._ask("arrival", subject)

    def attempts(self):
        return self._ask("attempts")

    def reset(self):
        return self._ask("reset")

    def delay(self, seconds):
        return self._ask("delay", seconds)

    def refuse_for(self, seconds):
        return self._ask("refuse_for", seconds)

    def wait_for(self, count, timeout=120.0, poll=0.02):
        """Wait until ``count`` messages arrived; return how many did."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.count()
            if n >= count:
                return n
            time.sleep(poll)
        return self.count()

    def stop(self):
        if self._proc.is_alive():
            self._ask("stop")
            self._proc.join(5)
