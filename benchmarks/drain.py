"""Section 3: e-mails per second from N queued to N delivered, against its two baselines.

Every figure is steady-state throughput at the SMTP sink: (N - 1) / (last arrival - first
arrival), so nobody's start-up is counted. The sink is emptied before each run.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks import rig


def throughput(sink):
    times = sink.times()
    if len(times) < 2:
        return None
    return (len(times) - 1) / (max(times) - min(times))


def duplicates(sink):
    return sum(n - 1 for n in sink.subjects().values())


def plain_loop(sink, n, connections=1):
    """The ceiling: plain loops of send_mail(), each over one SMTP connection of its own, no queue at all.

    ``connections`` loops run in parallel threads (the issue's "four plain SMTP connections in parallel"), sharing
    the ``n`` e-mails between them.
    """
    from django.core.mail import get_connection, send_mail

    def loop(part):
        connection = get_connection("django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=sink.port)
        connection.open()
        for i in range(part, n, connections):
            send_mail(f"loop {i}", "Body", "from@example.com", ["to@example.com"], connection=connection)
        connection.close()

    sink.reset()
    threads = [threading.Thread(target=loop, args=(part,)) for part in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.wait_for(n)
    return {"rate": throughput(sink)}


def outbox(work, sink, queue_url, workers, n):
    """N send_mail() calls with the consumer stopped, then a real consumer with ``workers`` drains them."""
    from django.core.mail import send_mail

    from notifications.models import Message

    rig.clear_outbox()
    rig.use_queue(queue_url)
    sink.reset()
    for i in range(n):
        send_mail(f"drain {i}", "Body", "from@example.com", ["to@example.com"])
    consumer = rig.start_consumer(work, sink.url, f"drain-{workers}w", workers=workers)
    arrived = sink.wait_for(n, timeout=max(120, n / 20))
    # Durable: every claim and outcome is committed, so every row says sent.
    sent = rig.wait_for(lambda: Message.objects.filter(status="sent").count() >= n, timeout=30)
    peak = rig.rss_mb(consumer.pid, "VmHWM")
    consumer.stop(signal.SIGINT, timeout=30)
    return {
        "rate": throughput(sink),
        "arrived": arrived,
        "all_rows_sent": bool(sent),
        "duplicates": duplicates(sink),
        "peak_rss_mb": peak,
    }


def plain_huey(work, sink, queue_url, n, workers=4):
    """Huey alone: N stock tasks (each opening its own connection), stock storage, default polling."""
    from benchmarks.plain_huey import build

    if queue_url.startswith("sqlite:"):
        Path(queue_url.removeprefix("sqlite://")).unlink(missing_ok=True)
    huey, send, _ = build(queue_url)
    huey.storage.flush_all()
    sink.reset()
    for i in range(n):
        send(f"plain {i}", "Body", "from@example.com", ["to@example.com"])
    env = {**os.environ, "BENCH_PLAIN_HUEY_URL": queue_url, "BENCH_SMTP_PORT": str(sink.port)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with open(Path(work) / "plain-huey.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", "benchmarks.plain_huey.huey", "-w", str(workers)],
            cwd=rig.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        arrived = sink.wait_for(n, timeout=max(120, n / 20))
        peak = rig.rss_mb(proc.pid, "VmHWM")
        rig.interrupt(proc)
    huey.storage.flush_all()
    return {"rate": throughput(sink), "arrived": arrived, "duplicates": duplicates(sink), "peak_rss_mb": peak}


def run(work, sink, n, runs, storages, worker_counts):
    """Every configuration ``runs`` times, interleaved so drift hits all alike; raw results by key."""
    results = {}
    for _ in range(runs):
        for connections in (1, 4):
            results.setdefault(("loop", connections), []).append(plain_loop(sink, n, connections))
        for name, url in storages.items():
            results.setdefault(("plain huey", name), []).append(plain_huey(work, sink, url["plain"], n))
            for workers in worker_counts:
                results.setdefault(("outbox", name, workers), []).append(outbox(work, sink, url["outbox"], workers, n))
        print(f"  drain round done at {time.strftime('%H:%M:%S')}", flush=True)
    return results
