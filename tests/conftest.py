pytest_plugins = ["testing.plugin"]

# --- reports (issue 3) --------------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reports_root(settings, tmp_path):
    """Report files of each test go to a directory of its own (never var/media)."""
    settings.REPORTS_ROOT = str(tmp_path / "reports")


@pytest.fixture
def start_report_consumer(start_consumer, settings):
    """A real consumer writing report files where this test looks, saving progress often."""

    def start(**env):
        return start_consumer(
            **{"REPORTS_ROOT": settings.REPORTS_ROOT, "REPORTS_PROGRESS_INTERVAL_SECONDS": 0.1, **env}
        )

    return start
