"""Section 1: what sending one e-mail adds to a request, through Django's full handler and middleware."""

import time

from django.test import Client


def latencies(path, n):
    client = Client()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - t)
        assert response.status_code == 200, (path, response.status_code)
    return samples


def run(slow_sink, n, n_inline):
    """``{view: [seconds]}`` for a view that sends nothing, one through the outbox, one inline over SMTP."""
    slow_sink.delay(0.2)
    latencies("/bench/nothing/", 20)  # warm up imports, URL resolver, connections
    latencies("/bench/outbox/", 20)
    return {
        "nothing": latencies("/bench/nothing/", n),
        "outbox": latencies("/bench/outbox/", n),
        "inline": latencies(f"/bench/inline/?port={slow_sink.port}", n_inline),
    }
