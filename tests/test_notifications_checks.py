"""A malformed rate limit stops start-up (check, the consumer) with one clear line naming the setting."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.process  # each test starts a Python process of its own


def manage(*args, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    environ.update({"DJANGO_SETTINGS_MODULE": "tests.settings", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE, env=environ, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "env, check_id, setting, forms",
    [
        ({"EMAIL_RATE_LIMIT": "30 a minute"}, "notifications.E001", "EMAIL_RATE_LIMIT", "N/s, N/m or N/h"),
        ({"EMAIL_RATE_LIMIT": "0/s"}, "notifications.E001", "EMAIL_RATE_LIMIT", "N/s, N/m or N/h"),
        ({"EMAIL_DOMAIN_RATE_LIMITS": "gmail.com:20/m"}, "notifications.E002", "EMAIL_DOMAIN_RATE_LIMITS", "="),
    ],
)
@pytest.mark.parametrize("command", ["check", "run_huey"])
def test_a_bad_limit_stops_start_up_with_one_line(command, env, check_id, setting, forms):
    result = manage(command, **env)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if check_id in line]
    assert setting in line and forms in line and "expected" in line


def test_good_limits_pass():
    result = manage("check", EMAIL_RATE_LIMIT="30/m", EMAIL_DOMAIN_RATE_LIMITS="gmail.com=20/m,outlook.com=1000/h")
    assert result.returncode == 0, result.stderr
