"""Scenario 3: a Redis of our own restarted during enqueues and again while a batch drains: none lost."""

import logging
import socket
import subprocess
import time

from benchmarks import rig
from benchmarks.faults.common import Result, fresh, queue_mail, statuses, tally


class OwnRedis:
    """redis-server on a free loopback port, no persistence: a restart loses every queued task."""

    def __init__(self, work):
        from testing.smtp import _free_port

        self.port = _free_port("127.0.0.1")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.cmd += ["--dir", str(work)]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL)
        rig.wait_for(self._answers, timeout=10)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def _answers(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False


class Counting(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.failed_enqueues = 0

    def emit(self, record):
        if "could not enqueue" in record.getMessage():
            self.failed_enqueues += 1


def run(work, sink, n, down_seconds=2.0):
    result = Result("3. Redis restarted during enqueues and during draining")
    redis = OwnRedis(work)
    redis.start()
    fresh(work, "redis", redis.url)
    sink.reset()
    # The wake-up's enqueue is logged by mysite.wakeups (one per transaction), or by notifications without it.
    loggers = [logging.getLogger("notifications"), logging.getLogger("mysite.wakeups")]
    counting, saved = Counting(), [logger.handlers for logger in loggers]
    for logger in loggers:
        logger.handlers = [counting]
    # The sweeper re-enqueues rows queued longer than this; each minute, as in production.
    consumer = rig.start_consumer(work, sink.url, "redis", NOTIFICATIONS_REQUEUE_AFTER_SECONDS=10)
    try:
        # Phase A: Redis goes away in the middle of a stream of send_mail() calls.
        half = n // 2
        queue_mail("redis", half // 4)
        redis.stop()
        down_until = time.monotonic() + down_seconds
        sent = half // 4
        while time.monotonic() < down_until and sent < half:
            queue_mail("redis", 1, sent)
            sent += 1
            time.sleep(0.005)
        redis.start()
        queue_mail("redis", half - sent, sent)
        sent = half
        # Phase B: a slower relay keeps a batch draining while Redis restarts under it.
        sink.delay(0.05)  # ~80 e-mails/s with 4 workers: rows still due after the restart
        queue_mail("redis", n - half, half)
        rig.wait_for(lambda: sink.count() >= half + (n - half) // 4, timeout=120, interval=0.02)
        redis.stop()
        time.sleep(down_seconds)
        redis.start()
        sink.delay(0)
        started = time.monotonic()
        done = rig.wait_for(lambda: statuses() == {"sent": n}, timeout=150, interval=0.5)
        recovered = time.monotonic() - started
    finally:
        for logger, handlers in zip(loggers, saved, strict=True):
            logger.handlers = handlers
        consumer.stop()
        redis.stop()
    arrived, duplicates = tally(sink, "redis ")
    result.figures = {
        "e-mails": n,
        "Redis down (s), twice": down_seconds,
        "send_mail() calls whose enqueue failed (row kept)": counting.failed_enqueues,
        "all sent, s after the second restart": round(recovered, 1),
        "arrived (distinct)": arrived,
        "lost": n - arrived,
        "duplicates": duplicates,
    }
    result.check(bool(done) and arrived == n, f"{n - arrived} lost; rows {dict(statuses())}")
    result.check(counting.failed_enqueues > 0, "no enqueue failed: the restart did not hit the enqueues")
    return result
