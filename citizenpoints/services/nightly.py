"""The nightly pass, in one place for the Celery schedule and the command."""

import datetime

from django.utils import timezone

from citizenpoints.models import LedgerEntry, ScoringWindow
from citizenpoints.services.badges import badges_evaluate_all
from citizenpoints.services.scoring import scoring_age

# Overlap with the previous pass, so an entry recorded while it ran is not missed.
OVERLAP = datetime.timedelta(hours=1)


def nightly_pass(*, now: datetime.datetime | None = None, all_badges: bool = False) -> dict:
    """Age points out of the window (re-tiering whom it touched), then evaluate badges.

    Awards and batches grant badges as they go, so by default only residents with entries recorded since the
    previous pass are evaluated: the safety net, not the whole city. `all_badges` evaluates everyone (after a
    badge's rule changes, or a new badge is added). Set-based throughout.
    """
    now = now or timezone.now()
    previous_pass = ScoringWindow.objects.values_list("aged_at", flat=True).get(pk=1)
    result = scoring_age(now=now)
    recent = LedgerEntry.objects.filter(recorded_at__gte=previous_pass - OVERLAP).values("resident_id")
    result["badges_granted"] = badges_evaluate_all(now=now, resident_ids=None if all_badges else recent)
    result["window_start"] = result["window_start"].isoformat()
    return result
