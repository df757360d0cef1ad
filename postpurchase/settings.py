"""One settings module, read from the environment (see .env.example).

With no environment at all the platform runs embedded: SQLite, Celery tasks executed eagerly,
messages written to a local outbox. DATABASE_URL and CELERY_BROKER_URL switch to real services.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Django ---------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
ENVIRONMENT = env.str("ENVIRONMENT", default="development")  # "production" enforces secrets
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if ENVIRONMENT != "production" else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when ENVIRONMENT=production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "anymail",
    "postpurchase",
    "commerce",
    "tracking",
    "estimates",
    "notifications",
    "trackpage",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "trackpage.middleware.CustomDomainMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "postpurchase.urls"
WSGI_APPLICATION = "postpurchase.wsgi.application"
ASGI_APPLICATION = "postpurchase.asgi.application"

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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the eager demo and the test suite write from several threads.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# --- Cache ----------------------------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static and media (served by the app; no CDN) -------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files from the app itself (runserver and gunicorn alike, no CDN or
# nginx needed). With COLLECTED_STATIC (production default) it serves the compressed, hashed
# files of `collectstatic`; otherwise it finds them in place, so the demo needs no build step.
COLLECTED_STATIC = env.bool("COLLECTED_STATIC", default=ENVIRONMENT == "production")
WHITENOISE_USE_FINDERS = not COLLECTED_STATIC
WHITENOISE_AUTOREFRESH = not COLLECTED_STATIC
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if COLLECTED_STATIC
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")

# --- Admin ----------------------------------------------------------------------------------
ADMIN_URL = env.str("ADMIN_URL", default="console/").strip("/") + "/"
OPS_ADMIN_URL = env.str("OPS_ADMIN_URL", default="ops/").strip("/") + "/"
LOGIN_URL = f"/{ADMIN_URL}login/"

# --- Celery ---------------------------------------------------------------------------------
# No broker configured: tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# Reliability: ack after the (idempotent) task ran, so a killed worker's task is redelivered;
# one message in flight per process; time limits below the Redis visibility timeout.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "events-sweep": {"task": "postpurchase.events_sweep", "schedule": timedelta(seconds=30)},
}

# --- Domain events (outbox) -----------------------------------------------------------------
# An event not dispatched after this long is re-dispatched by the sweeper.
OUTBOX_SWEEP_AFTER = timedelta(seconds=env.int("OUTBOX_SWEEP_AFTER_SECONDS", default=60))
OUTBOX_SWEEP_BATCH = env.int("OUTBOX_SWEEP_BATCH", default=500)
OUTBOX_HANDLER_MAX_ATTEMPTS = env.int("OUTBOX_HANDLER_MAX_ATTEMPTS", default=5)

# --- Store data: purchase statistics (docs/tracking-page.md, "Recommendations") -------------
# Orders whose lines changed without an event (console edits, bulk loads) or that were deleted
# are brought into the bought-together / best-seller figures this often.
COMMERCE_PURCHASE_STATS_REFRESH = timedelta(
    minutes=env.int("COMMERCE_PURCHASE_STATS_REFRESH_MINUTES", default=60)
)
CELERY_BEAT_SCHEDULE["commerce-purchase-stats-refresh"] = {
    "task": "commerce.purchase_stats_refresh",
    "schedule": COMMERCE_PURCHASE_STATS_REFRESH,
}

# --- Tracking: inbound webhooks, polling, sweeps (docs/tracking.md) ------------------------
# Fernet keys (urlsafe base64, 32 bytes) encrypting stored webhook secrets; the first encrypts,
# all decrypt (rotation). Empty: a key derived from SECRET_KEY.
WEBHOOK_SECRET_KEYS = env.list("WEBHOOK_SECRET_KEYS", default=[])
TRACKING_WEBHOOK_MAX_BODY = env.int("TRACKING_WEBHOOK_MAX_BODY", default=2_000_000)
TRACKING_WEBHOOK_TOLERANCE = timedelta(
    seconds=env.int("TRACKING_WEBHOOK_TOLERANCE_SECONDS", default=300)
)
TRACKING_WEBHOOK_BATCH = env.int("TRACKING_WEBHOOK_BATCH", default=500)
# A queue of its own for webhook processing (run a worker with `-Q <name>`); empty: the default.
TRACKING_INGEST_QUEUE = env.str("TRACKING_INGEST_QUEUE", default="")
TRACKING_WEBHOOK_STUCK_AFTER = timedelta(
    seconds=env.int("TRACKING_WEBHOOK_STUCK_AFTER_SECONDS", default=600)
)
TRACKING_SHIPMENT_WINDOW = timedelta(days=env.int("TRACKING_SHIPMENT_WINDOW_DAYS", default=120))
TRACKING_POLL_NEAR_DELIVERY = timedelta(
    minutes=env.int("TRACKING_POLL_NEAR_DELIVERY_MINUTES", default=60)
)
TRACKING_POLL_IN_TRANSIT = timedelta(
    minutes=env.int("TRACKING_POLL_IN_TRANSIT_MINUTES", default=120)
)
TRACKING_POLL_AT_REST = timedelta(minutes=env.int("TRACKING_POLL_AT_REST_MINUTES", default=480))
TRACKING_POLL_JITTER = env.float("TRACKING_POLL_JITTER", default=0.2)
TRACKING_POLL_MAX_BACKOFF = timedelta(hours=env.int("TRACKING_POLL_MAX_BACKOFF_HOURS", default=24))
TRACKING_POLL_BATCH = env.int("TRACKING_POLL_BATCH", default=200)
TRACKING_POLL_DEFAULT_RATE_PER_MINUTE = env.int("TRACKING_POLL_DEFAULT_RATE_PER_MINUTE", default=60)
TRACKING_STALLED_AFTER = timedelta(hours=env.int("TRACKING_STALLED_AFTER_HOURS", default=72))
TRACKING_EXPIRE_AFTER = timedelta(days=env.int("TRACKING_EXPIRE_AFTER_DAYS", default=60))
TRACKING_IMPORT_BATCH = env.int("TRACKING_IMPORT_BATCH", default=20_000)
CELERY_BEAT_SCHEDULE.update(
    {
        "tracking-poll-due": {"task": "tracking.poll_due", "schedule": timedelta(minutes=1)},
        "tracking-webhooks-sweep": {
            "task": "tracking.webhooks_sweep",
            "schedule": timedelta(seconds=30),
        },
        "tracking-sweep-quiet": {
            "task": "tracking.shipments_sweep_quiet",
            "schedule": timedelta(minutes=15),
        },
    }
)

# --- Tracking: carrier APIs polled by tracking.carriers.clients -------------------------------
# A carrier is polled only when its credentials are set. Budgets are shared by all workers
# through the cache: `burst` requests per `burst / rate_per_second` seconds.
CARRIER_API_BASE_URLS = {
    "ups": env.str("UPS_API_BASE_URL", default="https://onlinetools.ups.com"),
    "fedex": env.str("FEDEX_API_BASE_URL", default="https://apis.fedex.com"),
    "usps": env.str("USPS_API_BASE_URL", default="https://apis.usps.com"),
    "dhl": env.str("DHL_API_BASE_URL", default="https://api-eu.dhl.com"),
}
CARRIER_API_CREDENTIALS = {
    "ups": {
        "client_id": env.str("UPS_CLIENT_ID", default=""),
        "client_secret": env.str("UPS_CLIENT_SECRET", default=""),
    },
    "fedex": {
        "client_id": env.str("FEDEX_CLIENT_ID", default=""),
        "client_secret": env.str("FEDEX_CLIENT_SECRET", default=""),
    },
    "usps": {
        "client_id": env.str("USPS_CLIENT_ID", default=""),
        "client_secret": env.str("USPS_CLIENT_SECRET", default=""),
    },
    "dhl": {"api_key": env.str("DHL_API_KEY", default="")},
}
CARRIER_API_RATE_LIMITS = {
    carrier: {
        "rate_per_second": env.float(f"{carrier.upper()}_API_RATE_PER_SECOND", default=rate),
        "burst": env.int(f"{carrier.upper()}_API_BURST", default=burst),
    }
    # DHL's unified API allows 1 call/s and 250 a day on the default plan.
    for carrier, rate, burst in (
        ("ups", 5.0, 10),
        ("fedex", 5.0, 10),
        ("usps", 1.0, 5),
        ("dhl", 1.0, 1),
    )
}
CARRIER_API_TIMEOUT_SECONDS = env.float("CARRIER_API_TIMEOUT_SECONDS", default=10.0)

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["postpurchase.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["postpurchase.api.permissions.HasMerchantApiKey"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "postpurchase.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "postpurchase.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["postpurchase.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_THROTTLE_RATE", default="1200/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Post-purchase platform API",
    "DESCRIPTION": "Wire a store to the platform: orders, customers, shipments.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
CELERY_BEAT_SCHEDULE["idempotency-purge"] = {
    "task": "postpurchase.idempotency_purge",
    "schedule": timedelta(hours=1),
}

# --- Messaging ------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=BASE_DIR / "var" / "outbox")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@localhost")
ANYMAIL = env.dict("ANYMAIL", default={})

# --- Notifications (see docs/notifications.md) ---------------------------------------------
# Links in messages (tracking, unsubscribe) are absolute: the public address of this platform.
NOTIFICATIONS_BASE_URL = env.str("NOTIFICATIONS_BASE_URL", default="http://localhost:8000")
# With an SMTP relay instead of an ESP (EMAIL_BACKEND=
# notifications.channels.smtp_backend.EmailBackend, a cheaper path over Django's SMTP backend):
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
NOTIFICATIONS_OUTBOX_DIR = env.path("NOTIFICATIONS_OUTBOX_DIR", default=BASE_DIR / "var" / "outbox")
NOTIFICATIONS_PROVIDER_TIMEOUT = env.float("NOTIFICATIONS_PROVIDER_TIMEOUT", default=10.0)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6)
NOTIFICATIONS_SEND_BATCH = env.int("NOTIFICATIONS_SEND_BATCH", default=100)
# A send task goes on with other queued messages for up to this long, claiming each next batch
# while the current one is with the provider (notifications/send_loop.py); 0: its own ids only.
NOTIFICATIONS_SEND_LOOP_SECONDS = env.float("NOTIFICATIONS_SEND_LOOP_SECONDS", default=10.0)
# Mail connections one send task opens at once (each carries >= 20 messages of its batch).
NOTIFICATIONS_EMAIL_CONNECTIONS = env.int("NOTIFICATIONS_EMAIL_CONNECTIONS", default=4)
NOTIFICATIONS_RELEASE_BATCH = env.int("NOTIFICATIONS_RELEASE_BATCH", default=500)
NOTIFICATIONS_PUSH_TTL = env.int("NOTIFICATIONS_PUSH_TTL", default=24 * 3600)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_STATUS_CALLBACK_URL = env.str("TWILIO_STATUS_CALLBACK_URL", default="")
VAPID_PUBLIC_KEY = env.str("VAPID_PUBLIC_KEY", default="")
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
VAPID_CLAIM_EMAIL = env.str("VAPID_CLAIM_EMAIL", default="ops@localhost")
# Without credentials SMS and push go to the local outbox (the embedded default).
NOTIFICATIONS_CHANNELS = {
    "email": "notifications.channels.email.EmailChannel",
    "sms": "notifications.channels.sms.TwilioSmsChannel"
    if TWILIO_ACCOUNT_SID
    else "notifications.channels.outbox.OutboxChannel",
    "push": "notifications.channels.push.WebPushChannel"
    if VAPID_PRIVATE_KEY
    else "notifications.channels.outbox.OutboxChannel",
}
CELERY_BEAT_SCHEDULE.update(
    {
        "notifications-release-due": {
            "task": "notifications.due_sends_release",
            "schedule": timedelta(seconds=30),
        },
        "notifications-sweep-stuck": {
            "task": "notifications.messages_sweep_stuck",
            "schedule": timedelta(minutes=5),
        },
    }
)

# --- Estimates: delivery dates (docs/estimates.md) -------------------------------------------
# The share of shipments that should arrive by the promised date; the promise is set to hit it.
ESTIMATES_ON_TIME_TARGET = env.float("ESTIMATES_ON_TIME_TARGET", default=0.9)
# Where trained model artifacts (skops files) are also written; blank: in the database only.
ESTIMATES_ARTIFACT_DIR = env.str("ESTIMATES_ARTIFACT_DIR", default=str(BASE_DIR / "var" / "models"))
# How far back training reads delivered shipments.
ESTIMATES_TRAINING_DAYS = env.int("ESTIMATES_TRAINING_DAYS", default=365)
CELERY_BEAT_SCHEDULE.update(
    {
        "estimates-train": {
            "task": "estimates.estimators_train_all",
            "schedule": timedelta(days=env.int("ESTIMATES_RETRAIN_DAYS", default=7)),
        },
    }
)

# --- Tracking page (docs/tracking-page.md) --------------------------------------------------
# Proxies in front of the app that append to X-Forwarded-For (0: use the connecting address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
TRACKPAGE_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
TRACKPAGE_LINK_MAX_AGE = timedelta(days=env.int("TRACKPAGE_LINK_MAX_AGE_DAYS", default=180))
TRACKPAGE_LOOKUP_WINDOW_SECONDS = env.int("TRACKPAGE_LOOKUP_WINDOW_SECONDS", default=900)
TRACKPAGE_LOOKUP_LIMIT_PER_CLIENT = env.int("TRACKPAGE_LOOKUP_LIMIT_PER_CLIENT", default=20)
TRACKPAGE_LOOKUP_LIMIT_PER_ORDER = env.int("TRACKPAGE_LOOKUP_LIMIT_PER_ORDER", default=8)
TRACKPAGE_ATTRIBUTION_WINDOW = timedelta(days=env.int("TRACKPAGE_ATTRIBUTION_DAYS", default=7))
TRACKPAGE_REFRESH_SECONDS = env.int("TRACKPAGE_REFRESH_SECONDS", default=60)
TRACKPAGE_FRAGMENT_TTL = env.int("TRACKPAGE_FRAGMENT_TTL_SECONDS", default=600)
# Whole pages are rendered ahead of the first view (on scans, status changes, new orders) and kept
# this long; their key holds the day and every version they show, so a change is a new key.
TRACKPAGE_PAGE_TTL = env.int("TRACKPAGE_PAGE_TTL_SECONDS", default=86400)
# With the Redis cache, what a page view checks (versions, ratings, revocation) is kept this long
# per link; the order's events (scans, status, estimates, order changes) replace it at once, the
# shopper's rating and a revocation before they are written; any other change shows within it.
TRACKPAGE_HEAD_TTL = env.int("TRACKPAGE_HEAD_TTL_SECONDS", default=60)
# Which orders `manage.py trackpage_render_ahead` renders: shipments changed in the last N days.
TRACKPAGE_RENDER_AHEAD_DAYS = env.int("TRACKPAGE_RENDER_AHEAD_DAYS", default=14)
# With the Redis cache, page views are counted there and written to PostgreSQL this often.
TRACKPAGE_VIEWS_FLUSH_SECONDS = env.int("TRACKPAGE_VIEWS_FLUSH_SECONDS", default=10)
CELERY_BEAT_SCHEDULE["trackpage-page-views-flush"] = {
    "task": "trackpage.page_views_flush",
    "schedule": timedelta(seconds=TRACKPAGE_VIEWS_FLUSH_SECONDS),
}
# Pages of recent orders not stored under their current key (each midnight in the customers'
# zones makes new keys) are rendered ahead by the worker, not on a shopper's first view.
CELERY_BEAT_SCHEDULE["trackpage-pages-render-ahead"] = {
    "task": "trackpage.pages_render_ahead_recent",
    "schedule": timedelta(hours=1),
}
# Hosts of the platform itself; any other allowed host is looked up as a merchant's custom domain.
_NOTIFICATIONS_HOST = NOTIFICATIONS_BASE_URL.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
TRACKPAGE_PLATFORM_HOSTS = [
    *env.list("TRACKPAGE_PLATFORM_HOSTS", default=["localhost", "127.0.0.1", "::1", "testserver"]),
    _NOTIFICATIONS_HOST,
]

# --- Security -------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=ENVIRONMENT == "production")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=ENVIRONMENT == "production")
# Load balancers and container health checks probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Admin theme ----------------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "Post-purchase console",
    "SITE_HEADER": "Post-purchase",
    "SHOW_HISTORY": True,
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
