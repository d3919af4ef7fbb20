pytest_plugins = ["testing.plugin"]

# --- reports (issue 3) --------------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture
def start_report_consumer(start_consumer):
    """A real consumer saving report progress often (the plugin keeps its files under the test's tmp_path)."""

    def start(**env):
        return start_consumer(**{"REPORTS_PROGRESS_INTERVAL_SECONDS": 0.1, **env})

    return start
