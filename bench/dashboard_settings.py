"""Settings for the gunicorn part of bench/dashboard.py: the product's own settings, plus a bare baseline view.

Only the URLconf differs (it adds `/bench/bare`), so the dashboard runs under exactly the settings it ships with.
"""

from citizenpoints.settings import *  # noqa: F403

ROOT_URLCONF = "dashboard_urls"
