"""Server processes freeze what they loaded at start (citizenpoints/gc_freeze.py)."""

import gc
import subprocess
import sys
import weakref

from celery import signals

from citizenpoints import celery as celery_app


def receivers_of(signal) -> set:
    return {r() if isinstance(r, weakref.ReferenceType) else r for _key, r in signal.receivers}


def test_a_celery_worker_freezes_what_it_loaded_once_ready_or_forked():
    # Not by sending the signals: that would also run Celery's own receivers, which close this process's
    # database connections.
    ready, forked = receivers_of(signals.worker_ready), receivers_of(signals.worker_process_init)
    assert celery_app._freeze_loaded_objects in ready & forked
    gc.unfreeze()
    try:
        celery_app._freeze_loaded_objects()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_wsgi_application_loads_every_view_then_freezes():
    # In a process of its own: importing the module freezes that process's objects.
    script = (
        "import gc, sys, citizenpoints.wsgi; "
        "assert 'citizenpoints.urls' in sys.modules and 'benefits.api.views' in sys.modules, 'views not loaded'; "
        "assert gc.get_freeze_count() > 0"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
