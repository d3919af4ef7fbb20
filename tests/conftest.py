pytest_plugins = ["testing.plugin"]

# --- reports (issue 3) --------------------------------------------------------
import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def start_report_consumer(start_consumer):
    """A real consumer saving report progress often (the plugin keeps its files under the test's tmp_path); it
    knows the ``test-paced`` report type (``tests.report_app``) besides the site's."""

    def start(**env):
        return start_consumer(
            **{"DJANGO_SETTINGS_MODULE": "tests.settings_reports", "REPORTS_PROGRESS_INTERVAL_SECONDS": 0.1, **env}
        )

    return start


@pytest.fixture
def paced_report():
    """The ``test-paced`` report type registered in this process too (``tests.report_app``), for the test's time."""
    from reports import registry
    from tests.report_app.types import Paced

    registry.register(Paced)
    yield registry.get(Paced.slug)
    registry._types.pop(Paced.slug)


# --- rate limits (issue 12) -----------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_rate_limits(request):
    """Start each database test with no rate-limit counts.

    The counters live in the cache: the database cache table, which the flush after a transactional
    test leaves alone (it is no model's table), or Redis. Without this, one test's sign-ups would
    count in the next.
    """
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db"}:
        yield
        return
    transactional = (marker is not None and marker.kwargs.get("transaction")) or "transactional_db" in names
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.core.cache import cache

    cache.clear()
    yield


# --- webhooks (issue 11 part B) -----------------------------------------------------------
@pytest.fixture
def receiver():
    """A real HTTP server on 127.0.0.1 recording each webhook POST; ``receiver.answer(Reply(500), ...)`` scripts it."""
    from testing.receiver import Receiver

    server = Receiver().start()
    yield server
    server.stop()


# --- markers (issue 19): `make test-fast` leaves out what needs a process or a browser --------------------------
# A fixture that starts a real process (consumer, gunicorn, a consumer killed holding rows) or Chromium is named
# here with the marker its tests must carry; a test that uses one without the marker fails and says which to add.
MARKER_OF_FIXTURE = {
    "start_consumer": "consumer",
    "start_site": "consumer",
    "dead_consumer": "consumer",
    "dead_task_consumer": "consumer",
    "chromium": "browser",
}


def pytest_runtest_setup(item):
    names = set(getattr(item, "fixturenames", ()))
    missing = sorted({m for f, m in MARKER_OF_FIXTURE.items() if f in names and not item.get_closest_marker(m)})
    if missing:
        pytest.fail(
            f"{item.nodeid} uses {', '.join(sorted(f for f in MARKER_OF_FIXTURE if f in names))}: mark it "
            + " and ".join(f"@pytest.mark.{m}" for m in missing)
            + " (make test-fast leaves those out)",
            pytrace=False,
        )


# --- screenshots (issue 19): a run of the suite leaves docs/*.png as they are ------------------------------------
DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def screenshots(tmp_path):
    """The folder a browser test saves its screenshots in: its own ``tmp_path``, or ``docs/`` when the run was
    asked to refresh the documentation's pictures (``SCREENSHOTS=docs``, which ``make screenshots`` sets)."""
    return DOCS if os.environ.get("SCREENSHOTS") == "docs" else tmp_path


# --- order (issue 19): tests that mostly wait start first, at the head of each xdist worker's share -------------
def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` mostly wait (for the next minute, a lease, a stopping consumer) rather than compute.
    Each xdist worker starts its share with some of them, so their waits overlap the others' work instead of
    being what the run ends on. ``--dist worksteal`` first hands each worker a contiguous share of this order
    (``len(pending) // workers left``, in turn), then balances by stealing from the ends."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    slow = [item for item in items if item.get_closest_marker("slow")]
    if workers < 2 or not slow:
        return
    rest = [item for item in items if not item.get_closest_marker("slow")]
    ordered, left = [], len(items)
    for k in range(workers):
        share = left // (workers - k)
        mine = slow[k::workers]
        take = max(share - len(mine), 0)
        ordered += mine + rest[:take]
        rest, left = rest[take:], left - share
    items[:] = ordered + rest
