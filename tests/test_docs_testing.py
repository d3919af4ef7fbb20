"""Every example in docs/testing.md runs as written, with nothing but the plugin (not our conftest).

Its ```python blocks become a ``conftest.py`` (the block that sets ``pytest_plugins``) and one test module
(the others, in order); pytest runs them in a subprocess against a test database of its own.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from testing.plugin import use_queue

BASE = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

pytestmark = pytest.mark.slow


def write_examples(folder):
    blocks = BLOCK.findall((BASE / "docs" / "testing.md").read_text())
    conftest = [b for b in blocks if "pytest_plugins" in b]
    assert len(conftest) == 1, "docs/testing.md shows one conftest.py"
    (folder / "conftest.py").write_text(conftest[0])
    (folder / "test_docs_examples.py").write_text("\n\n".join(b for b in blocks if b not in conftest))
    return len(blocks) - 1


def run_examples(folder, *args, base=BASE, unset=(), **env):
    """pytest on the examples, as a developer runs it: settings from the environment, the project at ``base``
    importable; the variables in ``unset`` are left out."""
    outer = connection.settings_dict["NAME"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k not in unset}
    environment.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONPATH=str(base),
        # Never the database the outer run is using.
        TEST_DATABASE_PATH=str(folder / "test-db.sqlite3"),
        TEST_DATABASE_NAME=f"{Path(outer).name}_docs",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder), *args, str(folder)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_example_in_docs_testing_md_passes_as_written(tmp_path):
    tests = write_examples(tmp_path)

    result = run_examples(tmp_path)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))
    # queue_url runs its example twice (SQLite, Redis); a laptop without Redis skips the Redis ones.
    assert passed + len(re.findall(r"SKIPPED", result.stdout)) >= tests - 1
    assert "failed" not in result.stdout.splitlines()[-1]


def test_a_redis_huey_url_of_the_site_is_never_flushed(tmp_path, own_redis, redis_url):
    """With the site's queue on Redis, the examples run on TEST_REDIS_URL and the site's keys stay."""
    site = use_queue(own_redis.url)
    site.enqueue(b"the site's own task")
    write_examples(tmp_path)

    result = run_examples(tmp_path, "-k", "welcome or both_queues", HUEY_URL=own_redis.url, TEST_REDIS_URL=redis_url)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert site.queue_size() == 1


@pytest.mark.consumer
def test_the_plugin_writes_nothing_in_the_sites_var_folder(tmp_path):
    """Issue 21.6: a team's test run leaves no file in its site's ``var/`` (it had left var/test-huey*.sqlite3).

    The project is copied so that its ``var/`` is this test's to watch (the suite's other processes run on);
    the examples that start consumers on both queues run there with a fresh clone's environment.
    """
    ignore = shutil.ignore_patterns(".git", ".venv", "var", "__pycache__", ".*_cache", "node_modules", "*.png")
    project = Path(shutil.copytree(BASE, tmp_path / "project", ignore=ignore))
    examples = tmp_path / "examples"
    examples.mkdir()
    write_examples(examples)

    result = run_examples(examples, "-k", "welcome or both_queues", base=project, unset=("DATABASE_URL", "HUEY_URL"))

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b3 passed", result.stdout), result.stdout[-2000:]  # welcome, and both_queues twice
    assert [p.relative_to(project) for p in (project / "var").rglob("*")] == []
