import os

from django.core.wsgi import get_wsgi_application

from citizenpoints.gc_freeze import load_views_and_freeze

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citizenpoints.settings")
application = get_wsgi_application()
load_views_and_freeze()
