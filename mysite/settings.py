"""Settings for mysite, read once from the environment (and an optional .env file).

Every variable is listed, with a comment, in .env.example.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from mysite.lean import import_without_psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

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
    "huey.contrib.djhuey.stats",
    "django_tasks",
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
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_PATH", default=str(VAR_DIR / "test-db.sqlite3"))}
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
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("BEHIND_TLS_PROXY", default=False):
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

NOTIFICATIONS_LEASE_SECONDS = env.int("NOTIFICATIONS_LEASE_SECONDS", default=300)
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
_stats_url = env.str("HUEY_STATS_URL", default="")
if "postgresql" not in DATABASES["default"]["ENGINE"] and not _stats_url.startswith("postgres"):
    import_without_psycopg("huey.storage", "peewee")
from mysite.queue import QueueURLError, huey_settings  # noqa: E402 - after the psycopg decision above

try:
    HUEY = huey_settings(
        env.str("HUEY_URL", default=f"sqlite:///{VAR_DIR / 'huey.sqlite3'}"),
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

# --- Operations (issue 4): task stats, heartbeat, health, django.tasks -------
# Huey's own stats recorder (huey.contrib.djhuey.stats) keeps task events in a
# small SQLite file of its own (or any peewee db-url, e.g. postgresql://...).
HUEY_STATS = {
    "filename": env.str("HUEY_STATS_PATH", default=str(VAR_DIR / "huey-stats.sqlite3")),
    "retention_hours": 48,
    "max_events": env.int("HUEY_STATS_MAX_EVENTS", default=50000),
}
if _stats_url:
    HUEY_STATS["database"] = _stats_url
# Each consumer records host/pid/last-seen this often; /health/ calls it dead after STALE seconds.
OPERATIONS_HEARTBEAT_SECONDS = env.float("OPERATIONS_HEARTBEAT_SECONDS", default=10)
OPERATIONS_HEARTBEAT_STALE_SECONDS = env.float("OPERATIONS_HEARTBEAT_STALE_SECONDS", default=30)
# /health/ turns 503 when a due e-mail has waited longer than this (seconds).
OPERATIONS_OUTBOX_MAX_WAIT_SECONDS = env.float("OPERATIONS_OUTBOX_MAX_WAIT_SECONDS", default=600)
# Checks deliberately silenced, comma-separated (see .env.example).
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])
# A load balancer polls /health/ over plain HTTP on the loopback: no redirect to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
# Days Huey keeps a finished django.tasks result (pruned by the daily cleanup).
OPERATIONS_TASK_RESULT_RETENTION_DAYS = env.int("OPERATIONS_TASK_RESULT_RETENTION_DAYS", default=7)
# Django's standard Tasks API (django-tasks backport) runs on our Huey consumer, enqueued on commit.
TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend", "ENQUEUE_ON_COMMIT": True}}

# --- Durable tasks (issue 10) ---------------------------------------------------
# Django's standard Tasks API on durable rows (durable/): enqueue writes a row in the caller's
# transaction, Huey carries only wake-ups. TASKS_BACKEND=huey goes back to Huey's HueyBackend
# (at-most-once: a task whose consumer is killed is lost).
_tasks_backend = env.str("TASKS_BACKEND", default="durable")
if _tasks_backend not in ("durable", "huey"):
    raise ImproperlyConfigured(f"TASKS_BACKEND={_tasks_backend!r}: expected durable or huey")
if _tasks_backend == "durable":
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
# Due tasks one worker claims at a time; a batch is cut short (and the rest given back) after BATCH_SECONDS.
DURABLE_BATCH_SIZE = env.int("DURABLE_BATCH_SIZE", default=25)
DURABLE_BATCH_SECONDS = env.float("DURABLE_BATCH_SECONDS", default=0.5)
# Running cap per concurrency group, e.g. DURABLE_GROUP_LIMITS=slow=2,images=1 (a group not listed: 1).
try:
    DURABLE_GROUP_LIMITS = {k: int(v) for k, v in env.dict("DURABLE_GROUP_LIMITS", default={}).items()}
except ValueError as exc:
    raise ImproperlyConfigured(f"DURABLE_GROUP_LIMITS: expected group=N,group=N ({exc})") from None
# The sweeper wakes a consumer for tasks due longer than this that no wake-up reached (seconds).
DURABLE_WAKE_AFTER_SECONDS = env.int("DURABLE_WAKE_AFTER_SECONDS", default=30)

# --- Reports (issue 3) ---------------------------------------------------------
# Report files live here, outside any URL: only reports.views.download serves them.
REPORTS_ROOT = env.str("REPORTS_ROOT", default=str(Path(MEDIA_ROOT) / "private" / "reports"))
REPORTS_RETENTION_DAYS = env.int("REPORTS_RETENTION_DAYS", default=7)
REPORTS_HISTORY_DAYS = env.int("REPORTS_HISTORY_DAYS", default=90)
REPORTS_TIME_LIMIT_SECONDS = env.int("REPORTS_TIME_LIMIT_SECONDS", default=3600)
REPORTS_LEASE_SECONDS = env.int("REPORTS_LEASE_SECONDS", default=120)
REPORTS_MAX_ATTEMPTS = env.int("REPORTS_MAX_ATTEMPTS", default=3)
REPORTS_PROGRESS_INTERVAL_SECONDS = env.float("REPORTS_PROGRESS_INTERVAL_SECONDS", default=1.0)
REPORTS_MAX_RANGE_DAYS = env.int("REPORTS_MAX_RANGE_DAYS", default=366)
REPORTS_REQUEUE_AFTER_SECONDS = env.int("REPORTS_REQUEUE_AFTER_SECONDS", default=300)
REPORTS_MAX_RUNNING = env.int("REPORTS_MAX_RUNNING", default=2)

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
    },
}
