"""Settings for the test suite: mysite's own settings, fed test defaults.

Only defaults: a variable already in the environment (CI's DATABASE_URL, say) wins.
Consumer processes started by the tests use this module too.
"""

import atexit
import os
import shutil
import tempfile

if "HUEY_URL" not in os.environ:
    # Huey opens (creates) its queue file as the settings load, before testing.plugin gives each test its own:
    # it goes to a folder of this process, removed as it exits, never to the site's var/.
    _tmp = tempfile.mkdtemp(prefix="mysite-test-settings-")
    atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
    os.environ.setdefault("HUEY_URL", f"sqlite:///{_tmp}/test-huey.sqlite3")
os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("EMAIL_URL", "memorymail://")
os.environ.setdefault("LOG_LEVEL", "INFO")

# The suite moves its queue to Redis at run time (testing.plugin's queue_url): with redis imported first, the
# settings do not keep it out of huey.storage as they do for a site whose HUEY_URL is SQLite (mysite/lean.py).
import redis  # noqa: E402,F401,I001

from mysite.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only

# --- Webhooks (issue 11 part B): the tests' receivers listen on the loopback.
WEBHOOKS_ALLOWED_NETWORKS = env.list("WEBHOOKS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])  # noqa: F405
