"""CityPoints settings: one module, read from the environment.

Zero-setup default: SQLite, local-memory cache, Celery tasks run inline. Set DJANGO_ENV=production for the
hardened profile (HTTPS-only cookies, HSTS, no DEBUG); it refuses to start without a real SECRET_KEY.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")  # no default: production must be given one
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters in production.")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-development-only-key-not-for-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "citizenpoints",
    "benefits",
]

MIDDLEWARE = [
    # First: before anything queries, it may spare a connection used moments ago its health check's SELECT 1.
    "citizenpoints.middleware.ConnectionHealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "citizenpoints.middleware.AuthenticationMiddleware",  # Django's, keeping sessions of the backends' old paths
    "citizenpoints.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "citizenpoints.middleware.StaffMFARequiredMiddleware",
    "citizenpoints.middleware.TermsConsentMiddleware",
]

ROOT_URLCONF = "citizenpoints.urls"
WSGI_APPLICATION = "citizenpoints.wsgi.application"
ASGI_APPLICATION = "citizenpoints.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if PRODUCTION else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "citizenpoints.User"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Django's Redis cache, with its client reused (citizenpoints/cache.py).
    CACHES = {"default": {"BACKEND": "citizenpoints.cache.RedisCache", "LOCATION": REDIS_URL}}
    # Sessions read from the shared cache, written through to the database: no session query per request. Only
    # with a cache every process shares (a per-process one would keep a signed-out session alive elsewhere).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# base.html's {% cache %} fragments (the chrome's parts that are the same for everyone in a language), rendered once
# per process: in local memory on purpose, so a process only ever serves its own templates' and translations'
# fragments (a shared cache would serve the previous deploy's), and a hit costs no round trip. Not kept with DEBUG,
# so edited templates show at once.
CACHES["template_fragments"] = {
    "BACKEND": f"django.core.cache.backends.{'dummy.DummyCache' if DEBUG else 'locmem.LocMemCache'}",
    "LOCATION": "template-fragments",
    "OPTIONS": {"MAX_ENTRIES": 5000},
}

# --- Celery: Redis when configured, otherwise tasks run inline so the demo needs nothing installed.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not (REDIS_URL or env.str("CELERY_BROKER_URL", default=""))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
# Every periodic schedule, in one place.
CELERY_BEAT_SCHEDULE = {
    "nightly-scoring": {"task": "citizenpoints.tasks.nightly_scoring", "schedule": crontab(hour=0, minute=5)},
    "nightly-retention": {"task": "citizenpoints.tasks.nightly_retention", "schedule": crontab(hour=2, minute=30)},
    "purge-redemption-tokens": {"task": "benefits.tasks.purge_old_tokens", "schedule": crontab(hour=3, minute=15)},
    # Yesterday's points, one notice and one email per resident, in time for breakfast (CELERY_TIMEZONE).
    "points-digest": {"task": "citizenpoints.tasks.points_digest", "schedule": crontab(hour=7, minute=30)},
}
# Celery would close Django's DB connection after every task without this; reconnecting per task is slow.
CELERY_DB_REUSE_MAX = 1000

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's and allauth's backends, loading a session's user with its groups and the header's answers in one query.
AUTHENTICATION_BACKENDS = [
    "citizenpoints.auth_backends.ModelBackend",
    "citizenpoints.auth_backends.AuthenticationBackend",
]

# --- Accounts (django-allauth), customised only through settings and the adapter.
ACCOUNT_ADAPTER = "citizenpoints.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[CityPoints] "
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "CityPoints"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "landing"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "citizenpoints" / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Residents' data exports: outside MEDIA_ROOT and never served by URL; only a view that checks the owner reads them.
PRIVATE_ROOT = env.path("PRIVATE_ROOT", default=BASE_DIR / "private")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": PRIVATE_ROOT}},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Email from one URL (smtp+tls://user:password@host:587, or consolemail:// for the demo), as Django 6.1's MAILERS.
if PRODUCTION and not env.str("EMAIL_URL", default=""):
    raise ImproperlyConfigured("Set EMAIL_URL in production: residents' verification and notices go by email.")
_email = env.email_url("EMAIL_URL", default="consolemail://")
_smtp_options = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS"),
    "use_ssl": _email.get("EMAIL_USE_SSL"),
    "timeout": env.int("EMAIL_TIMEOUT", default=10),
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {k: v for k, v in _smtp_options.items() if v} if "smtp" in _email["EMAIL_BACKEND"] else {},
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CityPoints <no-reply@citypoints.example>")
# Links in emails (sent by Celery, with no request to take the host from): a wrong host would send residents and
# invited partner staff to a dead or foreign site, so production must say it.
if PRODUCTION and not env.str("SITE_URL", default="").startswith("https://"):
    raise ImproperlyConfigured("Set SITE_URL in production to the site's https:// address: email links use it.")
CITYPOINTS_SITE_URL = env.str("SITE_URL", default="http://localhost:8000")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security. CSP everywhere: scripts only from us or with the per-request nonce; no inline styles.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env.bool("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "citizenpoints.api.exceptions.application_error_handler",
    "DEFAULT_THROTTLE_RATES": {"ingest": env.str("INGEST_RATE", default="120/min")},
}
# A full department batch (10,000 records) is a few megabytes of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
SPECTACULAR_SETTINGS = {
    "TITLE": "CityPoints API",
    "DESCRIPTION": "Public catalogue, resident and partner endpoints of the CityPoints civic rewards programme.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every layout step at INFO; its warnings (a missing font or image) still show.
    "loggers": {"weasyprint": {"level": "WARNING"}},
}

# --- Programme settings.
# The terms a resident agrees to when joining; bump the version when their text changes (residents are asked again).
CITYPOINTS_TERMS_VERSION = "2026-11"
CITYPOINTS_STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=True)
# Records older than this are deleted (or anonymised) by the nightly retention purge.
CITYPOINTS_RETENTION_YEARS = env.int("RETENTION_YEARS", default=5)
# How long a resident's data export stays downloadable before the nightly task deletes it.
CITYPOINTS_EXPORT_DAYS = env.int("EXPORT_DAYS", default=7)
# The key of the citizen-card HMAC: kept outside the database, so a stolen dump cannot be matched to card numbers.
if PRODUCTION:
    CITYPOINTS_CARD_KEY = env.str("CARD_HASH_KEY")
else:
    CITYPOINTS_CARD_KEY = env.str("CARD_HASH_KEY", default="development-only-card-key")
CITYPOINTS_INGEST_MAX_RECORDS = 10_000
CITYPOINTS_CSV_MAX_BYTES = env.int("CSV_MAX_BYTES", default=5 * 1024 * 1024)
CITYPOINTS_SCORING_WINDOW_MONTHS = env.int("SCORING_WINDOW_MONTHS", default=12)
# Appeals are decided within this many working days (weekdays, less the office calendar's holidays, plus its
# make-up working days); one filed after the office closes (local time) counts from the next working day.
CITYPOINTS_APPEAL_WORKING_DAYS = env.int("APPEAL_WORKING_DAYS", default=5)
CITYPOINTS_OFFICE_CLOSES_AT = env.str("OFFICE_CLOSES_AT", default="17:00")
