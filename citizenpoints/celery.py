import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citizenpoints.settings")

app = Celery("citizenpoints")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_process_init.connect  # a prefork pool's child, once forked
@signals.worker_ready.connect  # the worker itself (solo and thread pools run tasks in it), once every task is loaded
def _freeze_loaded_objects(**kwargs) -> None:
    from citizenpoints.gc_freeze import freeze_loaded_objects

    freeze_loaded_objects()
