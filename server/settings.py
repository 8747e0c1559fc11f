"""The one settings module. Every knob is an environment variable with a documented default.

The table of variables is in README.md ("Configuration"). Production sets at least
SECRET_KEY, ALLOWED_HOSTS, ALLOWED_ORIGINS, DATABASE_URL, REDIS_URL and HTTPS_ONLY=1
(see deploy/production.env.example, which a test runs `check --deploy` against).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from server.envtools import (
    env_bool,
    env_float,
    env_int,
    env_int_list,
    env_list,
    env_str,
    load_or_create_secret_key,
    public_base_url,
)
from server.openapi_components import FIELD_ERRORS_COMPONENT
from server.redis_urls import celery_broker_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Project-local data folder for the embedded engines, generated secrets and static files.
DATA_DIR = Path(env_str("IOP_DATA_DIR", str(BASE_DIR / ".iop")))

DEBUG = env_bool("DEBUG", False)
# Demo mode (`make run`): demo data may be seeded and demo staff may sign in without a
# second factor. Production never sets it.
DEMO = env_bool("DEMO", False)
SECRET_KEY = env_str("SECRET_KEY", "") or load_or_create_secret_key(DATA_DIR / "secret_key")
PORT = env_int("PORT", 8000)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
# Origins allowed to open websockets (and to post with CSRF cookies in the admin).
ALLOWED_ORIGINS = env_list("ALLOWED_ORIGINS", [f"http://127.0.0.1:{PORT}", f"http://localhost:{PORT}"])
CSRF_TRUSTED_ORIGINS = ALLOWED_ORIGINS
CSRF_FAILURE_VIEW = "server.errors.csrf_failure"

# --- Engines -----------------------------------------------------------------------------
# No SQLite path: the product always runs on PostgreSQL and Redis. `make run` and `make test`
# start embedded ones (server/embedded.py) and export these two variables to every process.
DATABASE_URL = env_str("DATABASE_URL", "")
REDIS_URL = env_str("REDIS_URL", "")
if not DATABASE_URL or not REDIS_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL and REDIS_URL must be set. Use `make run` / `make test`, which start "
        "embedded engines, or run a command through `python -m server.embedded -- <command>`."
    )

# Connections come from psycopg's pool (Django's "pool" option): under ASGI every
# database_sync_to_async call would otherwise open and close a PostgreSQL connection,
# which cost more than the query itself on every chat message and room join.
# DB_POOL_MAX_SIZE=0 turns the pool off (then DB_CONN_MAX_AGE applies).
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 10)
# Seconds a caller waits for a free pooled connection before failing.
DB_POOL_TIMEOUT = env_float("DB_POOL_TIMEOUT", 10.0)
# Pooled connections older than this are replaced, so a restarted server is picked up.
DB_POOL_MAX_LIFETIME = env_float("DB_POOL_MAX_LIFETIME", 600.0)
# Threads per process for the websockets' database and Redis calls (server/ws.py db_task).
DB_THREADS = env_int("DB_THREADS", 4)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=0 if DB_POOL_MAX_SIZE else env_int("DB_CONN_MAX_AGE", 0)
    )
}
# With the pool this checks each connection as it is handed out (one round trip).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5)
if DB_POOL_MAX_SIZE:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(env_int("DB_POOL_MIN_SIZE", 1), DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
        "max_lifetime": DB_POOL_MAX_LIFETIME,
    }
# Async connections per web process for chat, stored on the event loop (server/async_db.py).
DB_ASYNC_POOL_SIZE = env_int("DB_ASYNC_POOL_SIZE", 4)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Explicit pool size: the redis-py default pool refused handshakes in a connect storm.
REDIS_POOL_SIZE = env_int("REDIS_POOL_SIZE", 500)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "iop",
        "OPTIONS": {"max_connections": REDIS_POOL_SIZE},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # channels_redis blocks up to 5 s in BZPOPMIN; redis-py's default 5 s read
            # timeout would fire first and crash every idle consumer.
            "hosts": [
                {
                    "address": REDIS_URL,
                    "max_connections": REDIS_POOL_SIZE,
                    "socket_timeout": 15,
                    "socket_connect_timeout": 5,
                }
            ],
            "capacity": env_int("CHANNEL_CAPACITY", 1000),
            "expiry": env_int("CHANNEL_EXPIRY", 60),
            "prefix": "iop-asgi",
        },
    }
}

# --- Applications ------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    # Before django.contrib.auth: its `changepassword` command replaces auth's (a new
    # password must end the person's sessions and be audited).
    "accounts",
    # The Django admin, on a site that asks staff for their second factor (server/admin_site.py).
    "server.admin_config.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "audit",
    "programs",
    "groups",
    "sessions.apps.TherapySessionsConfig",
    "bookings",
    "notifications",
    "attendance",
    # The reference web client (templates and static JavaScript modules).
    "web",
    "measures",
]

MIDDLEWARE = [
    "server.middleware.RequestContextMiddleware",
    "server.middleware.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A strict Content-Security-Policy on every page (no inline scripts or styles).
    "web.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks a signed-in admin user as verified once they gave their second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "server.middleware.NoStoreMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "server.urls"
ASGI_APPLICATION = "server.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "server" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- Accounts and authentication ---------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Bearer tokens (django-rest-knox): stored hashed, expiring, revocable.
API_TOKEN_TTL = timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 12))
REST_KNOX = {
    "TOKEN_TTL": API_TOKEN_TTL,
    "AUTH_HEADER_PREFIX": "Bearer",
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": env_int("API_TOKEN_LIMIT_PER_USER", 20),
}

# How many proxies (TLS terminator, load balancer) stand in front of the web processes,
# each appending to X-Forwarded-For. The client address (lock-out, throttles, audit) is read
# from that header accordingly (server/client_address.py); with 0 the header is ignored.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 or more, got {TRUSTED_PROXY_COUNT}")

# Failed logins (django-axes): 5 per 15 minutes per account and, separately, per IP.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
# The API's JSON 429 under /api/, the web sign-in page's 429 elsewhere.
AXES_LOCKOUT_CALLABLE = "web.views.locked_out_response"
# Lock-outs per address key on the client, not on the proxy in front of it.
AXES_CLIENT_IP_CALLABLE = "server.client_address.client_ip"

# Second factor for staff (clinicians, admins): TOTP with single-use recovery codes
# (django-otp), asked at API sign-in and in the Django admin. Only demo mode may turn it
# off, so that demo staff sign in with the password alone.
STAFF_REQUIRE_2FA = env_bool("STAFF_REQUIRE_2FA", not DEMO)
if not STAFF_REQUIRE_2FA and not DEMO:
    raise ImproperlyConfigured("STAFF_REQUIRE_2FA=0 is allowed only with DEMO=1: staff accounts need a second factor.")
# The name authenticator apps show next to the account.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Virtual IOP")

# Single-use websocket tickets, kept in Redis.
REALTIME_TICKET_TTL_SECONDS = env_int("REALTIME_TICKET_TTL_SECONDS", 60)

# --- Live rooms --------------------------------------------------------------------------
# The web process's frame-path patches to Daphne, Twisted and autobahn (server/daphne_tuning.py):
# 0 leaves all of them out; WS_SERVER_TUNING_OFF names some to leave out (write, log_context,
# unmask, log_args, message_event, direct_send), to measure each one's gain. Each is also left
# out, with a warning, when the installed libraries are not the code it was written against.
WS_SERVER_TUNING = env_bool("WS_SERVER_TUNING", True)
WS_SERVER_TUNING_OFF = env_list("WS_SERVER_TUNING_OFF", [])
# Inbound frames per socket per minute (benchmarks raise it; production keeps 100).
WS_FRAMES_PER_MINUTE = env_int("WS_FRAMES_PER_MINUTE", 100)
# A room socket's mesh signaling frames (rtc.offer/answer/ice) per minute, counted apart
# from the frames above: joining a full mesh sends a burst of offers and ICE candidates.
WS_SIGNALING_FRAMES_PER_MINUTE = env_int("WS_SIGNALING_FRAMES_PER_MINUTE", 300)
# Each process refreshes its sockets' presence this often; a socket whose client sent
# nothing (not even a ping) for ROOM_IDLE_SECONDS is closed as dropped.
ROOM_HEARTBEAT_SECONDS = env_float("ROOM_HEARTBEAT_SECONDS", 10.0)
ROOM_IDLE_SECONDS = env_float("ROOM_IDLE_SECONDS", 60.0)
# A presence entry not refreshed for this long belongs to a dead process: it is swept.
ROOM_PRESENCE_TIMEOUT_SECONDS = env_float("ROOM_PRESENCE_TIMEOUT_SECONDS", 30.0)
ROOM_SWEEP_SECONDS = env_float("ROOM_SWEEP_SECONDS", 5.0)
# A participant back within this many seconds keeps their waiting place / admission.
ROOM_GRACE_SECONDS = env_float("ROOM_GRACE_SECONDS", 120.0)
# Attendance (attendance/services.py): time before starts_at that counts, and the
# thresholds of the computed status (late, left_early, partial; README defines them).
ATTENDANCE_EARLY_JOIN_MINUTES = env_int("ATTENDANCE_EARLY_JOIN_MINUTES", 0)
ATTENDANCE_LATE_MINUTES = env_int("ATTENDANCE_LATE_MINUTES", 10)
ATTENDANCE_LEFT_EARLY_MINUTES = env_int("ATTENDANCE_LEFT_EARLY_MINUTES", 10)
ATTENDANCE_PARTIAL_BELOW_PERCENT = env_int("ATTENDANCE_PARTIAL_BELOW_PERCENT", 75)
for _name in ("ATTENDANCE_EARLY_JOIN_MINUTES", "ATTENDANCE_LATE_MINUTES", "ATTENDANCE_LEFT_EARLY_MINUTES"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 or more, got {globals()[_name]}")
if not 0 <= ATTENDANCE_PARTIAL_BELOW_PERCENT <= 100:
    raise ImproperlyConfigured(
        f"ATTENDANCE_PARTIAL_BELOW_PERCENT must be 0 to 100, got {ATTENDANCE_PARTIAL_BELOW_PERCENT}"
    )
# This many missed sessions in a row (excused ones aside) tell the participant's primary
# clinician, once per streak (programs/forecasts.py).
ABSENCE_STREAK_SESSIONS = env_int("ABSENCE_STREAK_SESSIONS", 3)
if ABSENCE_STREAK_SESSIONS < 1:
    raise ImproperlyConfigured(f"ABSENCE_STREAK_SESSIONS must be 1 or more, got {ABSENCE_STREAK_SESSIONS}")
# Questionnaires (measures/): an item-9 alert nobody acknowledged within this many minutes
# goes to the program admins, and again every as many minutes until someone does.
CLINICAL_ALERT_ESCALATE_MINUTES = env_int("CLINICAL_ALERT_ESCALATE_MINUTES", 30)
if CLINICAL_ALERT_ESCALATE_MINUTES < 1:
    raise ImproperlyConfigured(
        f"CLINICAL_ALERT_ESCALATE_MINUTES must be 1 or more, got {CLINICAL_ALERT_ESCALATE_MINUTES}"
    )
# Shown to a participant at once when an answer signals risk (PHQ item 9 above 0).
CRISIS_RESOURCES_TEXT = env_str(
    "CRISIS_RESOURCES_TEXT",
    "If you are thinking about harming yourself, you are not alone. In the US, call or text 988 "
    "(Suicide & Crisis Lifeline) any time, or call 911 if you are in immediate danger. "
    "Your care team has been told and will reach out.",
)
# Frames kept per room in Redis for `resume`; an older gap gets a resync (fresh room.state
# and the recent chat from PostgreSQL).
ROOM_LOG_LENGTH = env_int("ROOM_LOG_LENGTH", 1000)
CHAT_MAX_CHARS = env_int("CHAT_MAX_CHARS", 4000)
# Chat batches a web process stores at once (sessions/rooms/chat_poster.py), each on one of the
# DB_ASYNC_POOL_SIZE connections. Bench S2 at 400 lines/s: 2 had a lower p99 than 1 or 4.
CHAT_WRITERS = env_int("CHAT_WRITERS", 2)
# Media (sessions/media.py): the server carries no audio or video. "mesh": browsers connect
# to each other, the room socket relays their offers, answers and ICE candidates, for rooms
# of at most MESH_MAX_PARTICIPANTS people; "livekit": a LiveKit server (SFU) carries the
# media and GET /api/v1/sessions/{id}/media/ hands out its access tokens.
MEDIA_BACKEND = env_str("MEDIA_BACKEND", "mesh")
MESH_MAX_PARTICIPANTS = env_int("MESH_MAX_PARTICIPANTS", 6)
# ICE servers given to clients. TURN credentials are the shared-secret scheme a coturn with
# `use-auth-secret` and `static-auth-secret = TURN_SECRET` accepts, valid TURN_TTL_SECONDS.
STUN_URLS = env_list("STUN_URLS", [])
TURN_URLS = env_list("TURN_URLS", [])
TURN_SECRET = env_str("TURN_SECRET", "")
TURN_TTL_SECONDS = env_int("TURN_TTL_SECONDS", 600)
LIVEKIT_URL = env_str("LIVEKIT_URL", "")
LIVEKIT_API_KEY = env_str("LIVEKIT_API_KEY", "")
LIVEKIT_API_SECRET = env_str("LIVEKIT_API_SECRET", "")
if MEDIA_BACKEND not in ("mesh", "livekit"):
    raise ImproperlyConfigured(f'MEDIA_BACKEND must be "mesh" or "livekit", got {MEDIA_BACKEND!r}')
if MEDIA_BACKEND == "livekit" and not (LIVEKIT_URL and LIVEKIT_API_KEY and LIVEKIT_API_SECRET):
    raise ImproperlyConfigured("MEDIA_BACKEND=livekit needs LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET")
if TURN_URLS and not TURN_SECRET:
    raise ImproperlyConfigured("TURN_URLS needs TURN_SECRET (the TURN server's static-auth-secret)")
if not 60 <= TURN_TTL_SECONDS <= 86400:
    raise ImproperlyConfigured(f"TURN_TTL_SECONDS must be 60 to 86400, got {TURN_TTL_SECONDS}")
if MESH_MAX_PARTICIPANTS < 2:
    raise ImproperlyConfigured(f"MESH_MAX_PARTICIPANTS must be 2 or more, got {MESH_MAX_PARTICIPANTS}")

# A session is `open` from this many minutes before it starts until it ends.
SESSION_OPEN_LEAD_MINUTES = env_int("SESSION_OPEN_LEAD_MINUTES", 10)
# Domain part of iCal event UIDs (an identifier, not a URL).
CALENDAR_UID_DOMAIN = env_str("CALENDAR_UID_DOMAIN", "iop.invalid")
# Reminders before each session a person is on, in minutes before its start (a person may
# keep fewer of them in their notification preferences). notifications/reminders.py.
SESSION_REMINDER_OFFSETS_MINUTES = sorted(
    set(env_int_list("SESSION_REMINDER_OFFSETS_MINUTES", [1440, 60])), reverse=True
)
if any(not 1 <= offset <= 10080 for offset in SESSION_REMINDER_OFFSETS_MINUTES):
    raise ImproperlyConfigured("SESSION_REMINDER_OFFSETS_MINUTES must be minutes from 1 to 10080 (a week)")
# A reminder not sent within this many minutes of its due time (workers down, a session
# created or moved after it) is skipped, so a "24 h" reminder never arrives 2 h before.
SESSION_REMINDER_LATE_MINUTES = env_int("SESSION_REMINDER_LATE_MINUTES", 30)
if SESSION_REMINDER_LATE_MINUTES < 1:
    raise ImproperlyConfigured(f"SESSION_REMINDER_LATE_MINUTES must be 1 or more, got {SESSION_REMINDER_LATE_MINUTES}")
# Prometheus metrics at /metrics (server/metrics.py) for a scraper sending this bearer
# token; without one the endpoint does not exist (404).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Scheme and host (and port) that links in emails and calendar events start with.
PUBLIC_BASE_URL = public_base_url(env_str("PUBLIC_BASE_URL", f"http://127.0.0.1:{PORT}"))

# Lists answer ?limit=&offset= pages; a larger limit is clamped to this (server/pagination.py).
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 200)

REST_FRAMEWORK = {
    # Bearer tokens first (their 401 names the Bearer scheme); the web client's pages call
    # the API with their session cookie, and DRF's SessionAuthentication enforces CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "server.openapi.ErrorEnvelopeAutoSchema",
    "EXCEPTION_HANDLER": "server.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["server.client_address.UserRateThrottle"],
    # For any stock DRF throttle: the same count server/client_address.py reads.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_RATE_PER_USER", "200/min"),
        "anon": env_str("API_RATE_ANON", "60/min"),
        "login": env_str("API_RATE_LOGIN", "30/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "server.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50),
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Virtual IOP backend API",
    "DESCRIPTION": "Sessions, hours, bookings and realtime tickets for a virtual intensive outpatient program.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The error envelope's field messages, a recursive schema (server/openapi.py).
    "APPEND_COMPONENTS": {"schemas": FIELD_ERRORS_COMPONENT},
    "ENUM_NAME_OVERRIDES": {
        "SessionKindEnum": "sessions.models.SessionKind",
        "SchedulableKindEnum": "sessions.models.SCHEDULABLE_KINDS",
        "AttendanceStatusEnum": "attendance.models.AttendanceStatus",
        "AttendanceOverrideStatusEnum": "attendance.models.OverrideStatus",
        "AvailabilityExceptionKindEnum": "bookings.models.ExceptionKind",
    },
}

# --- Security headers --------------------------------------------------------------------
HTTPS_ONLY = env_bool("HTTPS_ONLY", False)
SECURE_SSL_REDIRECT = HTTPS_ONLY
SESSION_COOKIE_SECURE = HTTPS_ONLY
CSRF_COOKIE_SECURE = HTTPS_ONLY
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS_ONLY else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS_ONLY
SECURE_HSTS_PRELOAD = HTTPS_ONLY
# Behind a TLS-terminating proxy; only trusted when the proxy sets it.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
# Never to another site; same-origin, so that browsers send the Origin header with a form
# post (under "no-referrer" they send "Origin: null", and Django's CSRF check refuses every
# sign-in form, the web client's and the admin's).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# The web client signs in with the session cookie; Lax keeps it off cross-site posts.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LOGIN_URL = "/signin/"
SESSION_COOKIE_AGE = 8 * 3600
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Time --------------------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = env_str("TIME_ZONE", "UTC")
# Default IANA zone for new users and programs when none is given.
DEFAULT_USER_TIME_ZONE = env_str("DEFAULT_USER_TIME_ZONE", "America/New_York")
LANGUAGE_CODE = "en-us"
USE_I18N = False

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)

# --- Email -------------------------------------------------------------------------------
# Embedded default writes emails to files under .iop/mail; production sets SMTP.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "no-reply@iop.invalid")

# --- Demo --------------------------------------------------------------------------------
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "demo-pass-2026")

# --- Celery ------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or celery_broker_url(REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Longer than any countdown we schedule; tasks never use an ETA beyond it.
CELERY_VISIBILITY_TIMEOUT_SECONDS = env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 6 * 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS}
# Tests give their workers a queue of their own, so stray workers cannot take their tasks.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "iop")
# Emails go out from a queue of their own (a worker consumes both; compose runs one worker
# per queue), so a slow SMTP server never delays the sweeps and reminders.
CELERY_EMAIL_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-email"
CELERY_TASK_ROUTES = {"notifications.tasks.send_email_delivery": {"queue": CELERY_EMAIL_QUEUE}}
# Every task has a time limit (a test checks each registered task): at the soft one the
# task gets SoftTimeLimitExceeded and fails; at the hard one its worker process is replaced.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# The audit chain's daily walk reads the whole log: longer limits of its own.
CELERY_TASK_ANNOTATIONS = {"audit.tasks.verify_audit_chain": {"soft_time_limit": 1800, "time_limit": 1900}}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Each run also closes the sockets opened with the tokens it deletes: at most a minute late.
    "purge-expired-tokens": {"task": "accounts.tasks.purge_expired_tokens", "schedule": 60.0},
    # Hourly, so on the 18th birthday the guardian's open sockets close within the hour (the
    # consent stops counting at midnight in any case; accounts.selectors.consents_in_force).
    "end-guardian-access-at-adulthood": {"task": "accounts.tasks.end_guardian_access_at_adulthood", "schedule": 3600.0},
    # Daily at a fixed time (a crontab, so a restarted beat neither skips nor repeats it).
    "verify-audit-chain": {"task": "audit.tasks.verify_audit_chain", "schedule": crontab(hour=3, minute=17)},
    "generate-upcoming-sessions": {"task": "sessions.tasks.generate_upcoming_sessions", "schedule": 3600.0},
    "notify-session-openings": {"task": "notifications.tasks.notify_session_openings", "schedule": 60.0},
    "release-held-emails": {"task": "notifications.tasks.release_held_emails", "schedule": 60.0},
    # Claims and sends the session reminders that came due (never a task ETA hours ahead);
    # a sweep left in the queue over a minute is dropped, the next one does its work.
    "send-session-reminders": {
        "task": "notifications.tasks.send_session_reminders",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Web processes sweep too; this covers a deployment whose web processes all died.
    "sweep-room-presence": {"task": "sessions.tasks.sweep_room_presence", "schedule": 15.0},
    "end-overdue-rooms": {"task": "sessions.tasks.end_overdue_rooms", "schedule": 30.0},
    # Attendance of sessions that ended without a room ending them (or whose task was lost).
    "record-missed-attendance": {"task": "attendance.tasks.record_missed_attendance", "schedule": 300.0},
    # Each program's weekly hours forecast, from its local weekday and time on (once per
    # participant and week: programs/forecasts.py).
    "send-hours-forecasts": {"task": "programs.tasks.send_hours_forecasts", "schedule": 900.0},
    # Idempotency-Key records older than 24 h (an expired key is already treated as new).
    "delete-expired-idempotency-keys": {"task": "bookings.tasks.delete_expired_idempotency_keys", "schedule": 3600.0},
    # Questionnaires that came due ("a questionnaire is ready", once per due occurrence).
    "notify-due-questionnaires": {"task": "measures.tasks.notify_due_questionnaires", "schedule": 900.0},
    # Unacknowledged item-9 alerts past CLINICAL_ALERT_ESCALATE_MINUTES (once per step).
    "escalate-clinical-alerts": {"task": "measures.tasks.escalate_clinical_alerts", "schedule": 60.0},
}

# --- Logging -----------------------------------------------------------------------------
# Never log request bodies, tokens or passwords: the default formatters print only the
# message, and the request logger is kept at WARNING.
# "json": one JSON object a line (python-json-logger), with the request id of the request,
# or of the request that queued the task, in every line (server/log_context.py).
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f'LOG_FORMAT must be "plain" or "json", got {LOG_FORMAT!r}')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "server.log_context.RequestContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s %(task_name)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}

os.makedirs(DATA_DIR, exist_ok=True)
