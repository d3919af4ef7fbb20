"""Misconfiguration stops start-up with one clear line naming the setting."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.process  # each test starts a Python process of its own


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


# --- issue 12: HTTPS defaults behind the proxy, files without world read --------------------------------------
SECURITY = (
    "SECURE_SSL_REDIRECT SESSION_COOKIE_SECURE CSRF_COOKIE_SECURE SECURE_HSTS_SECONDS SECURE_HSTS_INCLUDE_SUBDOMAINS "
    "SECURE_HSTS_PRELOAD SECURE_PROXY_SSL_HEADER"
).split()


def security_settings(**env):
    code = f"from django.conf import settings as s; print(repr([getattr(s, n, None) for n in {SECURITY!r}]))"
    result = manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return dict(zip(SECURITY, ast.literal_eval(result.stdout.strip().splitlines()[-1]), strict=True))


def test_behind_tls_proxy_alone_gives_the_https_defaults():
    assert security_settings(BEHIND_TLS_PROXY="true") == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    }


def test_each_https_default_stays_overridable():
    values = security_settings(BEHIND_TLS_PROXY="true", SECURE_HSTS_SECONDS="300", SECURE_SSL_REDIRECT="false")

    assert values["SECURE_HSTS_SECONDS"] == 300 and values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is True


def test_without_the_proxy_https_is_off():
    values = security_settings(BEHIND_TLS_PROXY="false")

    assert not any(values.values())


def test_a_new_sqlite_database_is_not_readable_by_others(tmp_path):
    db = tmp_path / "db.sqlite3"
    result = manage("migrate", DATABASE_URL=f"sqlite:///{db}", HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite3'}")

    assert result.returncode == 0, result.stderr
    created = [p for p in tmp_path.iterdir() if p.name.startswith(("db.sqlite3", "huey.sqlite3"))]
    assert db in created
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in created} == {p.name: "0o640" for p in created}
