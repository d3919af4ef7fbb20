"""System checks: each misconfiguration is an error with an id and a hint; production settings are clean."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from operations import checks
from testing.plugin import use_queue

BASE = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    environ.update({"DJANGO_SETTINGS_MODULE": "mysite.settings", **env})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE, env=environ, capture_output=True, text=True)


def env_example():
    values = {}
    for line in (BASE / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def ids(messages):
    return [m.id for m in messages]


def test_it_errs_on_immediate_mode_with_debug_off(settings):
    settings.DEBUG = False
    settings.HUEY = {**settings.HUEY, "immediate": True}

    [error] = checks.check_immediate()

    assert error.id == "operations.E001" and "run_huey" in error.hint


def test_it_warns_on_immediate_mode_in_development(settings):
    settings.DEBUG = True
    settings.HUEY = {**settings.HUEY, "immediate": True}

    assert ids(checks.check_immediate()) == ["operations.W001"]


def test_it_is_quiet_when_the_consumer_does_the_work(settings):
    assert checks.check_immediate() == []


@pytest.mark.process
def test_it_errs_on_sqlite_without_wal(tmp_path):
    result = manage("check", "--database", "default", DATABASE_URL="sqlite://:memory:", EMAIL_URL="dummymail://")

    assert result.returncode == 1
    assert "operations.E002" in result.stderr and "journal mode 'memory'" in result.stderr
    assert "HINT: Use a database file" in result.stderr


@pytest.mark.process
def test_the_sites_sqlite_database_is_in_wal(tmp_path):
    result = manage(
        "check", "--database", "default", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", EMAIL_URL="dummymail://"
    )

    assert "operations.E002" not in result.stderr, result.stderr
    assert result.returncode == 0


def test_it_errs_on_the_console_transport_with_debug_off(settings):
    settings.DEBUG = False
    settings.NOTIFICATIONS_TRANSPORT = "django.core.mail.backends.console.EmailBackend"

    [error] = checks.check_console_transport()

    assert error.id == "operations.E003" and "EMAIL_URL" in error.hint
    settings.DEBUG = True
    assert checks.check_console_transport() == []


def test_it_errs_on_an_unreachable_redis_queue(own_redis):
    use_queue(own_redis.url)
    assert checks.check_queue_reachable() == []
    own_redis.stop()

    [error] = checks.check_queue_reachable()

    assert error.id == "operations.E004" and "ConnectionError" in error.msg and "Start Redis" in error.hint


def test_it_errs_on_a_sqlite_queue_whose_folder_went_away(tmp_path):
    (tmp_path / "queue").mkdir()
    use_queue(f"sqlite:///{tmp_path / 'queue' / 'huey.sqlite3'}")
    shutil.rmtree(tmp_path / "queue")

    [error] = checks.check_queue_reachable()

    assert error.id == "operations.E004" and "does not exist" in error.msg


@pytest.mark.process
def test_the_unreachable_queue_check_runs_with_deploy(tmp_path, own_redis):
    own_redis.stop()
    env = {k: v.replace("/srv/mysite", str(tmp_path)) for k, v in env_example().items()}
    (tmp_path / "var").mkdir()

    result = manage("check", "--deploy", **{**env, "HUEY_URL": own_redis.url})

    assert result.returncode == 1
    assert "operations.E004" in result.stderr
    assert manage("check", **{**env, "HUEY_URL": own_redis.url}).returncode == 0  # only with --deploy


@pytest.mark.process
def test_a_sqlite_queue_in_a_missing_folder_is_one_clear_line(tmp_path):
    result = manage("check", HUEY_URL=f"sqlite:///{tmp_path / 'nowhere' / 'huey.sqlite3'}", DEBUG="true")

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Configuration error: HUEY_URL=") and line.endswith("/nowhere does not exist")


@pytest.mark.process
def test_check_deploy_is_clean_with_the_production_settings_of_env_example(tmp_path):
    # Every value from .env.example; only the /srv/mysite paths move to a folder this test may write.
    # The one silenced check is security.W021 (HSTS preload), silenced in .env.example: preloading is the owner's call.
    env = {k: v.replace("/srv/mysite", str(tmp_path)) for k, v in env_example().items()}
    (tmp_path / "var").mkdir()

    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (1 silenced)." in result.stdout


@pytest.mark.django_db
def test_the_checks_are_registered():
    from django.core.checks import registry

    registered = {c.__name__ for c in registry.registry.get_checks(include_deployment_checks=True)}

    assert {"check_immediate", "check_sqlite_wal", "check_console_transport", "check_queue_reachable"} <= registered
