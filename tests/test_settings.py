"""Misconfiguration stops start-up with one clear line naming the setting."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    environ.update({"DJANGO_SETTINGS_MODULE": "mysite.settings", "DEBUG": "false", "SECRET_KEY": "x" * 50, **env})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE, env=environ, capture_output=True, text=True)


@pytest.mark.parametrize(
    "env, setting",
    [
        ({"HUEY_URL": "mysql://nope"}, "HUEY_URL"),
        ({"HUEY_URL": "sqlite://relative.db"}, "HUEY_URL"),
        ({"HUEY_URL": "redis://:notaport/0"}, "HUEY_URL"),
        ({"EMAIL_URL": "carrier-pigeon://coop"}, "EMAIL_URL"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "change-me"}, "SECRET_KEY"),
    ],
)
def test_a_bad_setting_is_one_clear_line(env, setting):
    result = manage("check", **env)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0]


def test_debug_allows_the_default_key():
    assert manage("check", DEBUG="true", SECRET_KEY="").returncode == 0
