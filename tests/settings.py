"""Settings for the test suite: mysite's own settings, fed test defaults.

Only defaults: a variable already in the environment (CI's DATABASE_URL, say) wins.
Consumer processes started by the tests use this module too.
"""

import os
from pathlib import Path

_var = Path(__file__).resolve().parent.parent / "var"
os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("HUEY_URL", f"sqlite:///{_var / 'test-huey.sqlite3'}")
os.environ.setdefault("EMAIL_URL", "memorymail://")
os.environ.setdefault("LOG_LEVEL", "INFO")
os.environ.setdefault("HUEY_STATS_PATH", str(_var / "test-huey-stats.sqlite3"))

from mysite.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only

# --- Webhooks (issue 11 part B): the tests' receivers listen on the loopback.
WEBHOOKS_ALLOWED_NETWORKS = env.list("WEBHOOKS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])  # noqa: F405
