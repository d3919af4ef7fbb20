"""``python -m benchmarks.metrics_scrape``: the cost of one ``GET /metrics`` with 100,000 outbox rows and attempts.

Fills a fresh SQLite database (``var/bench/metrics/``) with ``BENCH_METRICS_ROWS`` outbox rows (default
100,000: mostly sent, some failed, queued, throttled and in flight) and one attempt each, then scrapes
``/metrics`` through Django's test client (the whole view, token check and text rendering included)
``SCRAPES`` times and prints the median and worst scrape and each source's share.

``--drain``: queue ``BENCH_METRICS_DRAIN`` e-mails (default 5,000), start a real consumer delivering to a
loopback SMTP sink, and scrape ``/metrics`` every half second until the outbox is empty: the series a
Prometheus server would see while the queue drains.
"""

import os
import random
import sys
import time
from datetime import timedelta

from benchmarks import rig
from benchmarks.stats import fmt, median, percentile

ROWS = int(os.environ.get("BENCH_METRICS_ROWS", "100000"))
SCRAPES = 20
TOKEN = "bench-token"


def fill(rows):
    from django.db import transaction
    from django.utils import timezone

    from notifications.models import Attempt, Message

    rng = random.Random(13)
    now = timezone.now()
    statuses = ["sent"] * 90 + ["failed"] * 4 + ["queued"] * 5 + ["sending"]
    with transaction.atomic():
        for start in range(0, rows, 5000):
            batch = []
            for i in range(start, min(start + 5000, rows)):
                status = rng.choice(statuses)
                created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
                due = now + timedelta(seconds=rng.uniform(-600, 600)) if status == "queued" else created
                batch.append(
                    Message(
                        status=status,
                        from_email="noreply@example.com",
                        recipients=[f"user{i}@example.com"],
                        subject=f"Hello {i}",
                        raw=b"Subject: hello\r\n\r\nbody\r\n",
                        created_at=created,
                        due_at=due,
                        reason="relay limit" if status == "queued" and i % 3 == 0 else "",
                        finished_at=created if status in ("sent", "failed") else None,
                    )
                )
            Message.objects.bulk_create(batch)
        outcomes = {"sent": "sent", "failed": "failed", "queued": "retry", "sending": "retry"}
        ids = Message.objects.values_list("pk", "status", "created_at")
        attempts = [
            Attempt(
                message_id=pk,
                started_at=created,
                duration=rng.lognormvariate(-2, 1),
                outcome=outcomes[status],
                code=250,
                reply="ok",
                recipients=["x@example.com"],
                host="bench",
                pid=1,
            )
            for pk, status, created in ids.iterator()
        ]
        Attempt.objects.bulk_create(attempts, batch_size=5000)


def scrape(client):
    """``{(name, labels): value}`` of one scrape, parsed by prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def drain():
    """Scrape while a real consumer drains a queued backlog; print the series."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.test import Client

    from benchmarks.sink import Sink

    work = rig.setup("metrics-drain")
    settings.METRICS_TOKEN = TOKEN
    n = int(os.environ.get("BENCH_METRICS_DRAIN", "5000"))
    rig.use_queue(rig.sqlite_url(work / "huey.sqlite3"))
    sink = Sink().start()
    for i in range(n):
        send_mail(f"drain {i}", "Body", "from@example.com", ["to@example.com"])
    client = Client()
    consumer = rig.start_consumer(work, sink.url, "drain", workers=4)
    began = time.monotonic()
    print(f"{n:,} e-mails queued; a consumer (4 workers) drains them; /metrics every 0.5 s:")
    print("   t (s)   queued  sending     sent  oldest due (s)  attempts sent  scrape (ms)")
    try:
        while True:
            at = time.perf_counter()
            m = scrape(client)
            took = (time.perf_counter() - at) * 1000
            queued = m[("mysite_outbox_messages", (("status", "queued"),))]
            sending = m[("mysite_outbox_messages", (("status", "sending"),))]
            sent = m[("mysite_outbox_messages", (("status", "sent"),))]
            print(
                f"{time.monotonic() - began:8.1f} {queued:8.0f} {sending:8.0f} {sent:8.0f}"
                f" {m[('mysite_outbox_oldest_due_age_seconds', ())]:15.1f}"
                f" {m[('mysite_email_attempts_total', (('outcome', 'sent'),))]:14.0f} {took:12.0f}",
                flush=True,
            )
            if sent >= n or time.monotonic() - began > 300:
                break
            time.sleep(0.5)
    finally:
        consumer.stop()
        sink.stop()


def main():
    if "--drain" in sys.argv:
        return drain()
    rig.setup("metrics")
    from django.conf import settings
    from django.test import Client

    settings.METRICS_TOKEN = TOKEN
    started = time.monotonic()
    fill(ROWS)
    print(f"filled {ROWS:,} outbox rows and {ROWS:,} attempts in {time.monotonic() - started:.1f} s")

    client = Client()
    times, sources = [], {}
    for _ in range(SCRAPES + 1):
        began = time.perf_counter()
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        took = time.perf_counter() - began
        assert response.status_code == 200
        times.append(took)
        for line in response.content.decode().splitlines():
            if line.startswith("mysite_metrics_source_seconds{"):
                name = line.split('"')[1]
                sources.setdefault(name, []).append(float(line.rsplit(" ", 1)[1]))
    times = times[1:]  # the first warms the connection and caches
    print(f"GET /metrics on SQLite, {ROWS:,} outbox rows + {ROWS:,} attempts, {SCRAPES} scrapes:")
    print(f"  median {fmt(median(times) * 1000, 'ms')}, p95 {fmt(percentile(times, 95) * 1000, 'ms')}")
    for name, values in sources.items():
        print(f"  {name}: median {fmt(median(values[1:]) * 1000, 'ms')}")


if __name__ == "__main__":
    main()
