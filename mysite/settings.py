"""Settings for mysite, read once from the environment (and an optional .env file).

Every variable is listed, with a comment, in .env.example.
"""

import os
from datetime import timedelta
from pathlib import Path

import django
import environ
from django.core.exceptions import ImproperlyConfigured

from mysite.lean import import_without

BASE_DIR = Path(__file__).resolve().parent.parent
# --- Least privilege: files (issue 12) ----------------------------------------
# Files this process creates (var/ itself, SQLite databases with their -wal/-shm, report files) are not for
# other users: the umask gains 027 (group may read, others nothing), before anything is created (issue 20).
# Only ever tightened; deploy/*.service set UMask=0027.
os.umask(os.umask(0o027) | 0o027)
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(mode=0o750, exist_ok=True)

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
INSECURE_KEY = "change-me"
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_KEY)
if not DEBUG and (not SECRET_KEY or SECRET_KEY == INSECURE_KEY):
    raise ImproperlyConfigured("SECRET_KEY is missing or still the default; set it (DEBUG is off)")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    *(["django_tasks"] if django.VERSION < (6, 0) else []),  # the Tasks API's backport; built in from Django 6
    "durable",
    "accounts",
    "notifications",
    "reports",
    "operations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the site read while the consumer writes; IMMEDIATE takes the write
    # lock at BEGIN, so a writer waits (busy timeout) instead of failing mid-way
    # with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Unset: testing/plugin.py makes the test database a file of the test run's own temporary directory.
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_PATH", default=None)}
else:
    # Checkouts sharing one PostgreSQL keep their test databases apart (default: test_<NAME>).
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None)}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production values come from the environment) -----------------
# BEHIND_TLS_PROXY=true (nginx terminates TLS) trusts its X-Forwarded-Proto and makes HTTPS the default:
# redirect to https, Secure cookies, HSTS for a year with subdomains (issue 12). Each stays overridable.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=BEHIND_TLS_PROXY)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=BEHIND_TLS_PROXY)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if BEHIND_TLS_PROXY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=BEHIND_TLS_PROXY)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- E-mail -------------------------------------------------------------------
# Every send_mail() in the project goes to the outbox; the consumer delivers it
# through the transport named by EMAIL_URL.
try:
    _email = env.email_url("EMAIL_URL", default="consolemail://")
except (ImproperlyConfigured, ValueError) as exc:
    raise ImproperlyConfigured(f"EMAIL_URL is malformed: {exc}") from None
EMAIL_BACKEND = "notifications.backend.OutboxBackend"
NOTIFICATIONS_TRANSPORT = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)  # seconds per SMTP attempt
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="mysite <noreply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ADMINS = [("Admin", a) for a in env.list("ADMINS", default=[])]

# --- E-mail: a company relay signed by a private CA (issue 13) -------------------
# A PEM file of CA certificates trusted (instead of the system's) when the relay's TLS is checked.
EMAIL_SSL_CA_FILE = env.str("EMAIL_SSL_CA_FILE", default="")

NOTIFICATIONS_LEASE_SECONDS = env.int("NOTIFICATIONS_LEASE_SECONDS", default=60)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=10)
NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_RETRY_BASE_SECONDS", default=60)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.float("NOTIFICATIONS_RETRY_MAX_SECONDS", default=3600)
NOTIFICATIONS_BATCH_SIZE = env.int("NOTIFICATIONS_BATCH_SIZE", default=50)
NOTIFICATIONS_REQUEUE_AFTER_SECONDS = env.int("NOTIFICATIONS_REQUEUE_AFTER_SECONDS", default=120)
NOTIFICATIONS_SENT_RETENTION_DAYS = env.int("NOTIFICATIONS_SENT_RETENTION_DAYS", default=30)
NOTIFICATIONS_FAILED_RETENTION_DAYS = env.int("NOTIFICATIONS_FAILED_RETENTION_DAYS", default=90)

# --- Sender limits (issue 7) ---------------------------------------------------
# Parsed and checked by notifications (system check notifications.E001/E002).
EMAIL_RATE_LIMIT = env.str("EMAIL_RATE_LIMIT", default="")
EMAIL_DOMAIN_RATE_LIMITS = env.str("EMAIL_DOMAIN_RATE_LIMITS", default="")
NOTIFICATIONS_ATTEMPT_RETENTION_DAYS = env.int("NOTIFICATIONS_ATTEMPT_RETENTION_DAYS", default=90)

# --- Grouped outcome recording (drain throughput) --------------------------------
# Rows sent cleanly are recorded (UPDATE + Attempt INSERT) this many at a time, or after 0.05 s.
# 3 keeps a drain well above the one-connection loop (~1.6x here; 10 gives ~2x) while a kill -9
# repeats at most 3 e-mails per worker.
NOTIFICATIONS_RECORD_EVERY = env.int("NOTIFICATIONS_RECORD_EVERY", default=3)

# --- Background work (Huey) --------------------------------------------------
_huey_url = env.str("HUEY_URL", default=f"sqlite:///{VAR_DIR / 'huey.sqlite3'}")
_unused = []
if "postgresql" not in DATABASES["default"]["ENGINE"]:
    _unused.append("psycopg")
if not _huey_url.startswith(("redis:", "rediss:")):
    _unused.append("redis")  # Django's Redis cache (CACHE_URL) still imports it when it connects
import_without(_unused, "huey.storage")
from mysite.queue import QueueURLError, huey_settings  # noqa: E402 - after the psycopg/redis decision above

try:
    HUEY = huey_settings(
        _huey_url,
        # djhuey would default this to DEBUG and send e-mail inside the request.
        immediate=env.bool("HUEY_IMMEDIATE", default=False),
        consumer={
            "workers": env.int("HUEY_WORKERS", default=4),
            "worker_type": env.str("HUEY_WORKER_TYPE", default="thread"),
            "initial_delay": 0.05,
            "backoff": 1.5,
            "max_delay": env.float("HUEY_MAX_DELAY", default=1.0),
            "scheduler_interval": 1,
            "periodic": True,
            "check_worker_health": True,
            "health_check_interval": 10,
            # SIGINT (Huey's graceful signal) lets in-flight tasks finish for this long; deploy/ sends SIGINT.
            "shutdown_timeout": env.float("HUEY_SHUTDOWN_TIMEOUT", default=60),
        },
    )
except QueueURLError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# --- Operations (issue 4): heartbeat, health ---------------------------------
# Each consumer records host/pid/last-seen this often; /health/ calls it dead after STALE seconds.
OPERATIONS_HEARTBEAT_SECONDS = env.float("OPERATIONS_HEARTBEAT_SECONDS", default=10)
OPERATIONS_HEARTBEAT_STALE_SECONDS = env.float("OPERATIONS_HEARTBEAT_STALE_SECONDS", default=30)
# /health/ turns 503 when a due e-mail has waited longer than this (seconds).
OPERATIONS_OUTBOX_MAX_WAIT_SECONDS = env.float("OPERATIONS_OUTBOX_MAX_WAIT_SECONDS", default=600)
# Checks deliberately silenced, comma-separated (see .env.example).
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])
# A load balancer polls /health/ over plain HTTP on the loopback: no redirect to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]

# --- Durable tasks (issue 10) ---------------------------------------------------
# Django's standard Tasks API on durable rows (durable/): enqueue writes a row in the caller's
# transaction, Huey carries only wake-ups. (A project that wants Huey's own at-most-once backend names
# huey.contrib.djhuey.tasks_backend.HueyBackend here; the operations page and cleanup read durable rows.)
TASKS = {
    "default": {
        "BACKEND": "durable.backend.DurableBackend",
        "QUEUES": env.list("DURABLE_QUEUES", default=["default"]),
    }
}
# A held task's lease; renewed every third of it while its consumer lives (seconds).
DURABLE_LEASE_SECONDS = env.int("DURABLE_LEASE_SECONDS", default=60)
# Attempts of a task without its own max_attempts (a consumer killed while running it counts as one).
DURABLE_MAX_ATTEMPTS = env.int("DURABLE_MAX_ATTEMPTS", default=3)
# Batches of short tasks (each seen to run under BATCH_SECONDS / BATCH_SIZE) for one worker, cut short after BATCH_SECONDS.
DURABLE_BATCH_SIZE = env.int("DURABLE_BATCH_SIZE", default=25)
DURABLE_BATCH_SECONDS = env.float("DURABLE_BATCH_SECONDS", default=0.5)
# Running cap per concurrency group, e.g. DURABLE_GROUP_LIMITS=slow=2,images=1 (a group not listed: 1).
try:
    DURABLE_GROUP_LIMITS = {k: int(v) for k, v in env.dict("DURABLE_GROUP_LIMITS", default={}).items()}
except ValueError as exc:
    raise ImproperlyConfigured(f"DURABLE_GROUP_LIMITS: expected group=N,group=N ({exc})") from None
# The sweeper wakes a consumer for tasks due longer than this that no wake-up reached (seconds).
DURABLE_WAKE_AFTER_SECONDS = env.int("DURABLE_WAKE_AFTER_SECONDS", default=30)

# --- Durable tasks: visibility and periodic tasks (issue 10, parts 6 and 7) ------------
# The daily cleanup deletes finished task rows (successful, failed, cancelled) older than this (days).
DURABLE_RETENTION_DAYS = env.int("DURABLE_RETENTION_DAYS", default=14)
# /health/ turns 503 when a due task has waited longer than this to start (seconds).
DURABLE_HEALTH_MAX_WAIT_SECONDS = env.float("DURABLE_HEALTH_MAX_WAIT_SECONDS", default=600)

# --- Reports (issue 3) ---------------------------------------------------------
# Report files live here, outside any URL: only reports.views.download serves them.
REPORTS_ROOT = env.str("REPORTS_ROOT", default=str(Path(MEDIA_ROOT) / "private" / "reports"))
REPORTS_RETENTION_DAYS = env.int("REPORTS_RETENTION_DAYS", default=7)
REPORTS_HISTORY_DAYS = env.int("REPORTS_HISTORY_DAYS", default=90)
REPORTS_TIME_LIMIT_SECONDS = env.int("REPORTS_TIME_LIMIT_SECONDS", default=3600)
REPORTS_MAX_ATTEMPTS = env.int("REPORTS_MAX_ATTEMPTS", default=3)
REPORTS_PROGRESS_INTERVAL_SECONDS = env.float("REPORTS_PROGRESS_INTERVAL_SECONDS", default=1.0)
REPORTS_MAX_RANGE_DAYS = env.int("REPORTS_MAX_RANGE_DAYS", default=366)
REPORTS_MAX_RUNNING = env.int("REPORTS_MAX_RUNNING", default=2)
# Reports are durable tasks of the group "reports": REPORTS_MAX_RUNNING is that group's cap.
DURABLE_GROUP_LIMITS["reports"] = REPORTS_MAX_RUNNING
# --- Fair report scheduling (issue 12): one user's reports queued or running at once.
REPORTS_MAX_ACTIVE_PER_USER = env.int("REPORTS_MAX_ACTIVE_PER_USER", default=5)

# --- Abuse resistance (issue 12): client address, rate limits, log-in lock-out ------
INSTALLED_APPS += ["axes", "throttle"]
# django-axes checks every log-in (the site's and the admin's) before the password is; it must come first,
# and its middleware last.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
# The client's address is REMOTE_ADDR unless that is a trusted proxy; then it is the proxy's header (last entry).
# Behind the nginx sample (BEHIND_TLS_PROXY=true) that proxy is this host's loopback.
TRUSTED_PROXIES = env.list(
    "TRUSTED_PROXIES", default=["127.0.0.1", "::1"] if env.bool("BEHIND_TLS_PROXY", default=False) else []
)
CLIENT_IP_HEADER = "HTTP_" + env.str("CLIENT_IP_HEADER", default="X-Forwarded-For").upper().replace("-", "_")
# Rate-limit counters live in this cache: the database by default (shared by every worker), or Redis.
CACHES = {"default": environ.Env.cache_url_config(env.str("CACHE_URL", default="") or "dbcache://mysite_cache")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache":
    CACHES["default"]["BACKEND"] = "throttle.cache.DatabaseCache"  # Django's, with an atomic incr
RATELIMIT_USE_CACHE = "default"
RATELIMIT_ENABLE = env.bool("RATE_LIMITS_ENABLED", default=True)
# Per client address and per target; "N/s|m|h|d", optionally "N/15m"; empty turns one off. See docs/operations.md.
RATE_LIMITS = {
    "signup": {
        "client": env.str("RATE_LIMIT_SIGNUP_CLIENT", default="10/h"),
        "address": env.str("RATE_LIMIT_SIGNUP_ADDRESS", default="3/h"),
    },
    "password_reset": {
        "client": env.str("RATE_LIMIT_PASSWORD_RESET_CLIENT", default="10/h"),
        "address": env.str("RATE_LIMIT_PASSWORD_RESET_ADDRESS", default="3/h"),
    },
    "login": {
        "client": env.str("RATE_LIMIT_LOGIN_CLIENT", default="60/10m"),
        "account": env.str("RATE_LIMIT_LOGIN_ACCOUNT", default="100/h"),
    },
    "reports": {
        "client": env.str("RATE_LIMIT_REPORTS_CLIENT", default="120/h"),
        "account": env.str("RATE_LIMIT_REPORTS_ACCOUNT", default="60/h"),
    },
    # The operations page's test e-mail (issue 20): staff can send it to any address.
    "test_email": {"account": env.str("RATE_LIMIT_TEST_EMAIL_ACCOUNT", default="10/h")},
}
# Log-in lock-out (django-axes): after LOGIN_FAILURE_LIMIT failures for one (address, username) pair, that pair
# waits LOGIN_LOCKOUT_MINUTES. Keyed on the pair, so an attacker cannot lock the real user out from elsewhere.
AXES_ENABLED = RATELIMIT_ENABLE
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "throttle.client.client_ip"
AXES_USERNAME_CALLABLE = "throttle.client.login_username"
AXES_LOCKOUT_CALLABLE = "throttle.views.locked_out"
AXES_VERBOSE = False  # our own log line says what happened, without axes' banner

# --- Logging -----------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(threadName)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false"],
        },
    },
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console", "mail_admins"], "level": "ERROR", "propagate": False},
        "huey": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "accounts": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "notifications": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "reports": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "operations": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "durable": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "mysite": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
# /health/ failures (issue 13): its 503s stay out of django.request (a load balancer polls it every
# second); operations.health logs each change of status once and mails the admins when it turns fail.
LOGGING["filters"]["skip_health_failures"] = {"()": "operations.log_filters.SkipHealthFailures"}
LOGGING["loggers"]["django.request"]["filters"] = ["skip_health_failures"]
LOGGING["loggers"]["operations.health"] = {
    "handlers": ["console", "mail_admins"],
    "level": LOG_LEVEL,
    "propagate": False,
}

# --- Tests (issue 13): what testing/plugin.py may touch -----------------------------
# The Redis database the test suite flushes (never the one HUEY_URL names); TEST_REDIS_DB picks a database
# on the default server, so several checkouts can share one Redis.
TEST_REDIS_URL = env.str("TEST_REDIS_URL", default=f"redis://127.0.0.1:6379/{env.int('TEST_REDIS_DB', default=15)}")
# CI=true: a service the tests need (Redis) must answer; on a laptop those tests are skipped instead.
TESTING_CI = env.bool("CI", default=False)

# --- Content-Security-Policy (issue 20) -----------------------------------------------------
# Scripts only from this site or with the request's nonce (``<script nonce="{{ request.csp_nonce }}">``), so
# an injected <script> or on*= handler does not run. Inline styles stay allowed: templates and e-mails (shown in
# /dev/mail/'s sandboxed frame, which inherits this policy) use style attributes, and CSS runs no code.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],  # as X-Frame-Options: DENY
    },
}

# --- Metrics (issue 13) -------------------------------------------------------------
# GET /metrics (Prometheus) answers a request with "Authorization: Bearer <METRICS_TOKEN>" or a staff
# session; empty: staff sessions only. Exempt from the HTTPS redirect, like /health/, for a loopback scraper.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
SECURE_REDIRECT_EXEMPT += [r"^metrics$"]

# --- Errors to Sentry (issue 13) -------------------------------------------------------
# Empty: off. Set: sentry-sdk with its Django and Huey integrations and operations.sentry.scrub.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
if SENTRY_DSN:
    from operations.sentry import init as _sentry_init  # noqa: E402 - only when configured

    _sentry_init(SENTRY_DSN, environment=SENTRY_ENVIRONMENT)

# --- Structured logs (issue 13) ---------------------------------------------------
# LOG_FORMAT=json: one JSON object per line (python-json-logger), with the fields the code logs
# (task, task_id, duration, outcome, outbox_ids ...). Every line a task writes names the task.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use text or json")
LOGGING["formatters"]["json"] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(threadName)s %(message)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "threadName": "thread"},
}
LOGGING["filters"]["task_context"] = {"()": "operations.logs.TaskContext"}
LOGGING["handlers"]["console"]["filters"] = ["task_context"]
# Python warnings (captured with LOG_FORMAT=json, see operations.apps) go through the same handler.
LOGGING["loggers"]["py.warnings"] = {"handlers": ["console"], "level": "WARNING", "propagate": False}
if LOG_FORMAT == "json":
    LOGGING["handlers"]["console"]["formatter"] = "json"

# --- Images (issue 11 part A): profile pictures ----------------------------------------
# Uploads are stored under MEDIA_ROOT/private/images/ (no URL); a durable task in the "cpu" concurrency group
# (DURABLE_GROUP_LIMITS, default 1 at a time) makes the published sizes; images.views.derived serves them.
INSTALLED_APPS += ["images"]
IMAGES_MAX_UPLOAD_BYTES = int(env.float("IMAGES_MAX_UPLOAD_MB", default=10) * 2**20)
IMAGES_MAX_PIXELS = env.int("IMAGES_MAX_PIXELS", default=50_000_000)
IMAGES_MAX_SIDE = env.int("IMAGES_MAX_SIDE", default=12_000)
# Memory one decoding may take (pixels × bytes per pixel of its kind: images.decoding.WORKING_BYTES): a 50-MP
# photo fits, a 49-MP picture with transparency (twice the bytes) does not.
IMAGES_MAX_DECODE_BYTES = int(env.float("IMAGES_MAX_DECODE_MB", default=300) * 2**20)
IMAGES_SIZES = [int(s) for s in env.list("IMAGES_SIZES", default=["64", "256", "1024"])]
IMAGES_FORMAT = env.str("IMAGES_FORMAT", default="webp")
IMAGES_QUALITY = env.int("IMAGES_QUALITY", default=82)
IMAGES_TIME_LIMIT_SECONDS = env.int("IMAGES_TIME_LIMIT_SECONDS", default=120)
IMAGES_REPLACED_RETENTION_HOURS = env.int("IMAGES_REPLACED_RETENTION_HOURS", default=24)
IMAGES_FAILED_RETENTION_DAYS = env.int("IMAGES_FAILED_RETENTION_DAYS", default=30)
LOGGING["loggers"]["images"] = {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
# Uploads per client address and per signed-in user (each is a CPU-heavy task); 429 past them.
RATE_LIMITS["images"] = {
    "client": env.str("RATE_LIMIT_IMAGES_CLIENT", default="60/h"),
    "account": env.str("RATE_LIMIT_IMAGES_ACCOUNT", default="20/h"),
}

# --- Outgoing webhooks (issue 11 part B) ---------------------------------------------
# Endpoints are configured in the admin; each event is a signed durable delivery, in order per endpoint.
INSTALLED_APPS += ["webhooks"]
LOGGING["loggers"]["webhooks"] = {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
# httpx logs every request's full URL at INFO, and a chat webhook's URL path is its secret.
LOGGING["loggers"]["httpx"] = {"handlers": ["console"], "level": "WARNING", "propagate": False}
LOGGING["loggers"]["httpcore"] = {"handlers": ["console"], "level": "WARNING", "propagate": False}
# Addresses or networks (CIDR) an endpoint may resolve to besides public addresses; empty refuses loopback,
# private, link-local and other special ranges, so a typo cannot make the consumer call an internal service.
WEBHOOKS_ALLOWED_NETWORKS = env.list("WEBHOOKS_ALLOWED_NETWORKS", default=[])
WEBHOOKS_CONNECT_TIMEOUT = env.float("WEBHOOKS_CONNECT_TIMEOUT", default=5)
WEBHOOKS_READ_TIMEOUT = env.float("WEBHOOKS_READ_TIMEOUT", default=15)
# Failed attempts in a row after which an endpoint is paused (staff resume it in the admin).
WEBHOOKS_PAUSE_AFTER = env.int("WEBHOOKS_PAUSE_AFTER", default=10)
# Back-off between attempts: BASE seconds, doubling, at most MAX (a Retry-After is honoured up to MAX).
WEBHOOKS_RETRY_BASE_SECONDS = env.float("WEBHOOKS_RETRY_BASE_SECONDS", default=10)
WEBHOOKS_RETRY_MAX_SECONDS = env.float("WEBHOOKS_RETRY_MAX_SECONDS", default=600)
# Deliveries started per receiving host, across all consumers ("N/s", "N/m", "N/h", "N/10s"; empty: no limit).
WEBHOOKS_RATE_PER_HOST = env.str("WEBHOOKS_RATE_PER_HOST", default="50/s")
# Bytes of a receiver's answer read at most (an excerpt of it is kept with the attempt).
WEBHOOKS_MAX_RESPONSE_BYTES = env.int("WEBHOOKS_MAX_RESPONSE_BYTES", default=65536)
# Days a delivered or failed delivery (with its attempts) is kept; pending ones are never pruned.
WEBHOOKS_RETENTION_DAYS = env.int("WEBHOOKS_RETENTION_DAYS", default=30)

# --- Under pressure (issue 10, part 4) ---------------------------------------------------
# A write that fails for want of space answers 503 with a page that says so (not a 500); an admin list's
# year filter no date can hold (?created_at__year=0) answers 400 (not a 500).
MIDDLEWARE += ["operations.middleware.DiskFullMiddleware", "operations.admin_dates.AdminDateFiltersMiddleware"]
# /health/ fails when the SQLite database's filesystem has less than this share free (percent).
OPERATIONS_DISK_FREE_MIN_PERCENT = env.float("OPERATIONS_DISK_FREE_MIN_PERCENT", default=5)

# --- Isolation (issue 10, part 5): slow work never holds up e-mail -------------------------
# Workers of each consumer that durable tasks never take (docs/tasks.md, "Slow work and e-mail"): they
# stay free for the outbox, so a new e-mail goes out in milliseconds while long tasks fill the others.
DURABLE_RESERVED_WORKERS = env.int("DURABLE_RESERVED_WORKERS", default=1)
# Python's switch interval in the consumer (ms; Python's default is 5): how long a worker waiting for the GIL
# (sending e-mail, say) waits at most before a CPU-bound task's thread must let go of it.
DURABLE_SWITCH_INTERVAL_MS = env.float("DURABLE_SWITCH_INTERVAL_MS", default=1)
