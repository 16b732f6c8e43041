"""Test overrides on top of the one settings module."""

import tempfile
from pathlib import Path

from citizenpoints.settings import *  # noqa: F403
from citizenpoints.settings import STORAGES

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run inline unless a test starts a worker on the real broker (tests/test_celery_broker.py).
CELERY_TASK_ALWAYS_EAGER = True
# Rate-limit counters must not leak between tests, so no shared Redis cache here.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# Uploads (logos, evidence photos, exports) go to a scratch folder per run, never into the working tree.
_scratch = Path(tempfile.mkdtemp(prefix="citypoints-tests-"))
MEDIA_ROOT = _scratch / "media"
PRIVATE_ROOT = _scratch / "private"
STORAGES = {
    **STORAGES,
    "private": {**STORAGES["private"], "OPTIONS": {"location": PRIVATE_ROOT}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# Serve static files straight from the source folders (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
