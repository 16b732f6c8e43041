import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from citizenpoints.gc_freeze import freeze_loaded_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citizenpoints.settings")
application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # every view now, not at the first request, so that the freeze covers them
freeze_loaded_objects()
