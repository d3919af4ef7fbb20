"""Password reset and sign-up for a known and an unknown address: the same answer in the same time (issue 12).

``python -m benchmarks.reset_timing``: alternates the two through Django's full handler and middleware
(the test client, the production password hasher; nothing is sent: the rows wait in the outbox) and
prints median and p90 of each.
"""

import statistics
import time

from benchmarks import rig


def run(n=300):
    rig.setup("reset-timing")
    from django.contrib.auth.models import User
    from django.test import Client

    User.objects.create_user("ada", "ada@example.com", "bench-pass-42")
    client = Client()
    samples = {"known": [], "unknown": []}
    for i in range(n + 20):
        for kind, email in (("known", "ada@example.com"), ("unknown", f"nobody{i}@example.com")):
            t = time.perf_counter()
            response = client.post("/accounts/password_reset/", {"email": email})
            elapsed = time.perf_counter() - t
            assert response.status_code == 302, response.status_code
            if i >= 20:  # the first rounds warm up templates, URL resolver and connections
                samples[kind].append(elapsed)
    return samples


def run_signup(n=40):
    """Sign-up with a new address and with one that has an account (both hash the password: ~0.1-0.5 s)."""
    from django.test import Client

    client = Client()
    samples = {"signup new": [], "signup taken": []}
    fields = {"password1": "bench-Pass-42x", "password2": "bench-Pass-42x"}
    for i in range(n + 3):
        for kind, email in (("signup new", f"new{i}@example.com"), ("signup taken", "ada@example.com")):
            t = time.perf_counter()
            response = client.post("/accounts/signup/", {"username": f"u{i}-{len(kind)}", "email": email, **fields})
            elapsed = time.perf_counter() - t
            assert response.status_code == 302, response.status_code
            if i >= 3:
                samples[kind].append(elapsed)
    return samples


def main():
    samples = {**run(), **run_signup()}
    for kind, values in samples.items():
        q = statistics.quantiles(values, n=10)
        print(f"{kind:12} n={len(values)} median {statistics.median(values) * 1000:.2f} ms  p90 {q[8] * 1000:.2f} ms")


if __name__ == "__main__":
    main()
