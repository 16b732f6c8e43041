"""Take the objects a server process loads at start out of the cyclic garbage collector's sight.

Django, its apps and their modules live as long as the process, yet every full collection walks all of them again.
A department batch allocates enough (10,000 parsed records, their ledger entries) to set off full collections:
bench/ingest.py's Celery workers spent 0.81 s of about 7.5 s CPU in the collector, 0.47 s once frozen (see
bench/README.md). Frozen objects are never collected, so garbage is collected first.
"""

import gc

from django.urls import get_resolver


def freeze_loaded_objects() -> None:
    gc.collect()
    gc.freeze()


def load_views_and_freeze() -> None:
    """Load the URLconf and every view it includes (otherwise loaded by the first request), then freeze."""
    _ = get_resolver().url_patterns  # evaluated for its imports
    freeze_loaded_objects()
