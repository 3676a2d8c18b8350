"""Leadloop's settings, read from the environment (every variable: docs/configuration.md).

Every variable is read through the strict helpers of ``leadloop.common.env``: a bad value stops
start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from leadloop.common.database import QUEUE, database_config, queue_database
from leadloop.common.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    env_time_zone,
    env_url,
)

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("LEADLOOP_DATA_DIR", str(Path.cwd() / "var"))).resolve()

DEBUG = env_bool("DEBUG", True)
_secret = os.environ.get("SECRET_KEY", "")
if not _secret:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set the environment variable SECRET_KEY (required when DEBUG is off), "
            "for example to the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    _secret = "insecure-development-key-only-for-DEBUG-true-0123456789-abcdefghij"
SECRET_KEY = _secret

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    # Django would answer every request with 400; say why at start-up instead.
    raise ImproperlyConfigured(
        "Set the environment variable ALLOWED_HOSTS (required when DEBUG is off) to the "
        "comma-separated host names Leadloop is served under, for example leadloop.example.com"
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
LEADLOOP_BASE_URL = env_url("LEADLOOP_BASE_URL", "http://127.0.0.1:8000", ("http", "https"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # serves the API docs' Swagger UI from static files, not a CDN
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "leadloop.common",
    "leadloop.accounts",
    "leadloop.leads",
    "leadloop.content",
    "leadloop.capture",
    "leadloop.scoring",
    "leadloop.lifecycle",
    "leadloop.agreements",
    "leadloop.routing",
    "leadloop.webhooks",
    "leadloop.sla",
    "leadloop.loop",
    "leadloop.api",
    "leadloop.web",
    "leadloop.demo",
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
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "leadloop.urls"
WSGI_APPLICATION = "leadloop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": database_config(
        os.environ.get("DATABASE_URL"),
        data_dir=DATA_DIR,
        prepared=env_bool("LEADLOOP_DB_PREPARED", True),
    )
}
if (_queue := queue_database(DATABASES["default"])) is not None:
    DATABASES[QUEUE] = _queue  # SQLite: form submissions and the task queue, in a file of their own
DATABASE_ROUTERS = ["leadloop.common.database.QueueRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "web:login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LEADLOOP_DEFAULT_TIME_ZONE = env_time_zone("LEADLOOP_DEFAULT_TIME_ZONE", "Europe/Berlin")

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("LEADLOOP_STATIC_ROOT", str(DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = DATA_DIR / "media"

# Background work: the Django Tasks API. "db" needs no extra server; "rq" needs Redis.
LEADLOOP_TASKS_BACKEND = env_choice("LEADLOOP_TASKS_BACKEND", "db", ("db", "rq", "immediate"))
_TASK_BACKENDS = {
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    "immediate": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"},
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
}
TASKS = {"default": _TASK_BACKENDS[LEADLOOP_TASKS_BACKEND]}
LEADLOOP_REDIS_URL = env_url(
    "LEADLOOP_REDIS_URL", "redis://127.0.0.1:6379/0", ("redis", "rediss", "unix")
)
# django-tasks-rq reaches Redis through django-rq's queues; `leadloop rqworker default` runs a worker.
RQ_QUEUES = {"default": {"URL": LEADLOOP_REDIS_URL, "DEFAULT_TIMEOUT": 600}}
if LEADLOOP_TASKS_BACKEND == "rq":
    INSTALLED_APPS.append("django_rq")

# Cache: shared by every web process. It holds the public forms' rate-limit counters.
# "db" is the table leadloop_cache (made by the capture app's migrations), no extra server;
# "redis" uses LEADLOOP_REDIS_URL and increments atomically.
LEADLOOP_CACHE = env_choice("LEADLOOP_CACHE", "db", ("db", "redis"))
_CACHE_BACKENDS = {
    "db": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "leadloop_cache",
        "OPTIONS": {"MAX_ENTRIES": 20000},
    },
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": LEADLOOP_REDIS_URL,
        "KEY_PREFIX": "leadloop",
    },
}
CACHES = {"default": _CACHE_BACKENDS[LEADLOOP_CACHE]}

# Public forms: submissions per client address per form, as "COUNT/SECONDS"; "off" disables.
_rate = env_str("LEADLOOP_FORM_RATE_LIMIT", "10/60").strip().lower()
if _rate in ("off", "0"):
    LEADLOOP_FORM_RATE_LIMIT: tuple[int, int] | None = None
else:
    _count, _, _seconds = _rate.partition("/")
    if not (_count.isdigit() and _seconds.isdigit() and int(_count) > 0 and int(_seconds) > 0):
        raise ImproperlyConfigured(
            f"LEADLOOP_FORM_RATE_LIMIT={_rate!r} is not COUNT/SECONDS (e.g. 10/60) or off."
        )
    LEADLOOP_FORM_RATE_LIMIT = (int(_count), int(_seconds))
# How many reverse proxies in front of Leadloop append to X-Forwarded-For: the client address
# is the one they saw. 0: REMOTE_ADDR is the client (no proxy, or one that sets REMOTE_ADDR).
LEADLOOP_TRUSTED_PROXIES = env_int("LEADLOOP_TRUSTED_PROXIES", 0, minimum=0)

# E-mail: SMTP, or "console" to print each message (the demo does, into var/worker.log).
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}
EMAIL_BACKEND = _EMAIL_BACKENDS[env_choice("LEADLOOP_EMAIL", "smtp", tuple(_EMAIL_BACKENDS))]
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "leadloop@localhost")

# API pagination
LEADLOOP_API_PAGE_SIZE = env_int("LEADLOOP_API_PAGE_SIZE", 50, minimum=1)

# Scoring thresholds until the agreement sets them: a lead "qualifies" with at least this fit
# grade and at least this engagement (0-100).
LEADLOOP_QUALIFY_FIT = env_choice("LEADLOOP_QUALIFY_FIT", "B", ("A", "B", "C", "D"))
LEADLOOP_QUALIFY_ENGAGEMENT = env_int("LEADLOOP_QUALIFY_ENGAGEMENT", 40, minimum=0)

# Outgoing webhooks (docs/webhooks.md): seconds to wait for a receiver to connect and to
# answer, and how many attempts a delivery gets before it is marked failed.
LEADLOOP_WEBHOOK_TIMEOUT = env_int("LEADLOOP_WEBHOOK_TIMEOUT", 10, minimum=1)
LEADLOOP_WEBHOOK_MAX_ATTEMPTS = env_int("LEADLOOP_WEBHOOK_MAX_ATTEMPTS", 10, minimum=1)

# Seconds each process keeps the rows every capture reads (the agreement in force, its queues,
# the webhook endpoints): a change made elsewhere reaches a process within this time.
LEADLOOP_CONFIG_CACHE_SECONDS = env_int("LEADLOOP_CONFIG_CACHE_SECONDS", 5, minimum=0)

# Security: on when DEBUG is off; each can be turned off behind a TLS-terminating proxy.
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("LEADLOOP_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("LEADLOOP_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("LEADLOOP_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("LEADLOOP_HSTS_PRELOAD", False)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits the whole domain to HTTPS in browsers for months: an explicit
        # opt-in (LEADLOOP_HSTS_PRELOAD=true), so `check --deploy` should not nag without it.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # httpx logs every webhook request at INFO; the delivery log already records each attempt.
    "loggers": {"httpx": {"level": "WARNING"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice(
            "LEADLOOP_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
    },
}
