"""Demo appeals, so the office queue and the residents' pages show every state: one just received, one being
reviewed and overdue, one against a reversal (which the reviewer who made it may not decide: the demo admin can),
and one granted with its correction. Loaded by appeals_data.load_demo after the office calendar; skipped when any
demo resident has an appeal already, so loading the demo again adds nothing.

Statements and reasons are data, like the demo's other texts, not gettext messages.
"""

import datetime

from django.utils import timezone

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import Appeal, LedgerEntry, Resident, User
from citizenpoints.services.appeals import appeal_decide, appeal_file, appeal_review_start
from citizenpoints.services.scoring import local_zone

DAY = datetime.timedelta(days=1)


def _at(days_ago: float, hour: int) -> datetime.datetime:
    day = (timezone.now().astimezone(local_zone()) - days_ago * DAY).date()
    return datetime.datetime.combine(day, datetime.time(hour, 0), tzinfo=local_zone())


def appeals_demo_load(*, domain: str) -> int:
    """Returns how many appeals were filed."""
    residents = {
        resident.user.email.split("@")[0]: resident
        for resident in Resident.objects.select_related("user").filter(user__email__endswith=f"@{domain}")
    }
    if not residents or Appeal.objects.filter(resident__in=residents.values()).exists():
        return 0
    reviewer = User.objects.filter(email=f"reviewer@{domain}").first()
    filed = 0

    def attempt(call):
        nonlocal filed
        try:
            appeal = call()
        except ApplicationError:
            return None  # the demo history of that resident does not allow it (a cap, a window): skip it
        filed += 1
        return appeal

    if "li.na" in residents:
        attempt(
            lambda: appeal_file(
                resident=residents["li.na"],
                subject=Appeal.Subject.MISSING_POINTS,
                behaviour_code="museum-visit",
                occurred_at=_at(3, 14),
                statement="I visited the City Museum with my daughter on Saturday afternoon and showed my citizen "
                "card at the gate, but no points came.",
                now=timezone.now() - datetime.timedelta(hours=2),
            )
        )
    if "wang.wei" in residents:
        late = attempt(
            lambda: appeal_file(
                resident=residents["wang.wei"],
                subject=Appeal.Subject.MISSING_POINTS,
                behaviour_code="museum-visit",
                occurred_at=_at(16, 10),
                statement="博物馆参观没有积分。我在入口刷了市民卡。",
                now=_at(12, 9),
            )
        )
        if late is not None and reviewer is not None:
            attempt(lambda: appeal_review_start(acting_user=reviewer, appeal=late, now=_at(10, 11)))
    reversal = (
        LedgerEntry.objects.filter(resident__in=residents.values(), kind=LedgerEntry.Kind.REVERSAL)
        .order_by("-recorded_at")
        .first()
    )
    if reversal is not None:
        attempt(
            lambda: appeal_file(
                resident=Resident.objects.get(pk=reversal.resident_id),
                subject=Appeal.Subject.REVERSAL,
                entry=reversal,
                statement="These were two different records, not one sent twice. I can show both receipts.",
                now=timezone.now() - DAY,
            )
        )
    if "emma.clarke" in residents and reviewer is not None:
        granted = attempt(
            lambda: appeal_file(
                resident=residents["emma.clarke"],
                subject=Appeal.Subject.MISSING_POINTS,
                behaviour_code="museum-visit",
                occurred_at=_at(8, 15),
                statement="Visited the Silk Museum last week; the gate scanner was down, staff wrote my card number.",
                now=_at(4, 10),
            )
        )
        if granted is not None:
            attempt(lambda: appeal_review_start(acting_user=reviewer, appeal=granted, now=_at(3, 9)))
            decided = attempt(
                lambda: appeal_decide(
                    acting_user=reviewer,
                    appeal=granted,
                    grant=True,
                    reason="The museum's paper visitor log for that day lists your card: the visit is awarded.",
                )
            )
            if decided is None:
                attempt(
                    lambda: appeal_decide(
                        acting_user=reviewer,
                        appeal=granted,
                        grant=False,
                        reason="The visit is in the museum's log, but this month's limit for museum visits was "
                        "already reached.",
                    )
                )
    return filed
