"""Server processes freeze what they loaded at start (citizenpoints/gc_freeze.py)."""

import gc
import subprocess
import sys

from celery import signals


def test_a_celery_worker_freezes_what_it_loaded_once_ready():
    gc.unfreeze()
    try:
        signals.worker_ready.send(sender=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_prefork_child_freezes_what_it_inherited():
    gc.unfreeze()
    try:
        signals.worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_wsgi_application_loads_every_view_then_freezes():
    # In a process of its own: importing the module freezes that process's objects.
    script = (
        "import gc, sys, citizenpoints.wsgi; "
        "assert 'citizenpoints.urls' in sys.modules and 'benefits.api.views' in sys.modules, 'views not loaded'; "
        "assert gc.get_freeze_count() > 50_000, gc.get_freeze_count()"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
