"""A small dataset whose every statistic is known by hand, at a frozen time.

Now is 2026-11-21 18:00 in the office's zone (Asia/Shanghai); the default period is 2025-12-01 to 2026-11-21. Some
rows sit near a month's edge, where the local month differs from UTC's, and some before the period.
"""

import datetime
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine

from benefits.models import Redemption, RedemptionToken
from citizenpoints.models import (
    Appeal,
    Badge,
    Behaviour,
    Claim,
    DataSource,
    IngestBatch,
    IngestRecord,
    LedgerEntry,
    OfficeRole,
    Resident,
    ResidentBadge,
)
from citizenpoints.services.awards import award_grant
from citizenpoints.services.reversals import entry_reverse
from tests.factories import (
    BenefitFactory,
    MerchantFactory,
    MerchantStaffFactory,
    ResidentFactory,
    UserFactory,
    place_in_tier,
    published_catalogue,
    tier,
)

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 21, 18, 0, tzinfo=ZONE)


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=ZONE)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def reviewer(db):
    return UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)


@pytest.fixture
def known_data(db, reviewer):
    return build_known_data(reviewer)


def build_known_data(reviewer) -> dict:
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    metro = DataSource.objects.create(code="metro", name_en="Metro Group", name_zh="地铁集团")
    published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "library-loan", "category": "reading-culture", "rule": {"points": 1}},
            {"code": "volunteer-shift", "category": "volunteering", "rule": {"points": 5}},
        ],
    )
    anna, bo, chen = ResidentFactory(), ResidentFactory(), ResidentFactory()

    def grant(external_id, code, when):
        return award_grant(
            resident=anna, behaviour_code=code, source=library, external_id=external_id, occurred_at=when
        ).entry

    grant("loan-old", "library-loan", local(2025, 11, 25, 12, 0))  # before the default period
    grant("loan-oct", "library-loan", local(2026, 10, 5, 12, 0))
    wrong = grant("shift-oct", "volunteer-shift", local(2026, 10, 31, 23, 30))  # UTC: 31 Oct too
    grant("shift-nov", "volunteer-shift", local(2026, 11, 1, 0, 30))  # UTC: 31 Oct 16:30, local November
    grant("loan-nov", "library-loan", local(2026, 11, 2, 9, 0))
    entry_reverse(entry=wrong, acting_user=reviewer, reason="Sent twice by the federation.")

    place_in_tier(bo, "good")
    place_in_tier(chen, "good")
    Resident.objects.filter(pk=chen.pk).update(left_at=NOW - datetime.timedelta(days=3), user=None)

    love, neighbour = Badge.objects.get(code="love-messenger"), Badge.objects.get(code="good-neighbour")
    ResidentBadge.objects.create(resident=anna, badge=love, awarded_at=local(2026, 11, 3, 8, 0))
    ResidentBadge.objects.create(resident=bo, badge=love, awarded_at=local(2026, 10, 10, 8, 0))
    ResidentBadge.objects.create(resident=bo, badge=neighbour, awarded_at=local(2025, 6, 1, 8, 0))

    def appeal(filed, due, status=Appeal.Status.RECEIVED, decided=None, entry=None):
        return Appeal.objects.create(
            resident=anna,
            subject=Appeal.Subject.ENTRY,
            entry=entry,
            statement="Please look again.",
            status=status,
            filed_at=filed,
            due_on=due,
            decided_at=decided,
            decided_by=reviewer if decided else None,
            decision_reason="Checked with the department." if decided else "",
        )

    entries = list(LedgerEntry.objects.filter(resident=anna, kind="award").order_by("seq"))
    granted, refused = Appeal.Status.GRANTED, Appeal.Status.REFUSED
    appeal(local(2026, 10, 1, 10, 0), datetime.date(2026, 10, 9), granted, local(2026, 10, 3, 10, 0))  # 2 days
    appeal(local(2026, 10, 2, 10, 0), datetime.date(2026, 10, 12), refused, local(2026, 10, 6, 10, 0))  # 4 days
    appeal(local(2026, 10, 20, 10, 0), datetime.date(2026, 10, 27), granted, local(2026, 11, 5, 10, 0))  # 16 days
    appeal(local(2026, 11, 10, 10, 0), datetime.date(2026, 11, 17), entry=entries[0])  # overdue
    appeal(local(2026, 11, 19, 10, 0), datetime.date(2026, 11, 26), Appeal.Status.IN_REVIEW, entry=entries[1])
    appeal(local(2025, 9, 1, 10, 0), datetime.date(2025, 9, 8), entry=entries[2])  # before the period, overdue

    loan = Behaviour.objects.get(code="library-loan", version__status="published")
    for filed, status, decided in [
        (local(2026, 10, 3, 9, 0), Claim.Status.APPROVED, local(2026, 10, 4, 9, 0)),
        (local(2026, 10, 20, 9, 0), Claim.Status.REJECTED, local(2026, 11, 2, 9, 0)),
        (local(2026, 11, 15, 9, 0), Claim.Status.PENDING, None),
    ]:
        Claim.objects.create(
            resident=anna,
            behaviour=loan,
            description="Returned a book",
            occurred_at=filed - datetime.timedelta(days=1),
            place="Library",
            status=status,
            filed_at=filed,
            decided_at=decided,
            decided_by=reviewer if decided else None,
            decision_reason="No receipt." if status == Claim.Status.REJECTED else "",
        )

    def batch(source, received, results, status=IngestBatch.Status.DONE):
        counts = dict(Counter(results)) if status == IngestBatch.Status.DONE else {}  # as batch_process writes them
        made = IngestBatch.objects.create(
            source=source, idempotency_key=f"k{received:%Y%m%d}", body_hash="0" * 64, status=status,
            received_at=received, record_count=len(results), counts=counts,
        )  # fmt: skip
        IngestRecord.objects.bulk_create(
            IngestRecord(batch=made, line=line, external_id=f"r{line}", result=result)
            for line, result in enumerate(results, 1)
        )

    refs = IngestRecord.Result
    batch(library, local(2026, 10, 10, 9, 0), [refs.ACCEPTED] * 3 + [refs.DUPLICATE] + [refs.UNKNOWN_CARD] * 2)
    batch(metro, local(2026, 11, 1, 9, 0), [refs.ACCEPTED] * 2 + [refs.CAP_REACHED])
    batch(metro, local(2026, 11, 20, 9, 0), [refs.PENDING] * 5, status=IngestBatch.Status.PREVIEW)
    batch(metro, local(2026, 11, 21, 9, 0), [refs.PENDING] * 2, status=IngestBatch.Status.RECEIVED)
    batch(library, local(2025, 10, 1, 9, 0), [refs.ACCEPTED] * 4)

    bikes = MerchantFactory(slug="city-bikes", name_en="City Bikes", name_zh="城市单车")
    museum = MerchantFactory(slug="museum", name_en="City Museum", name_zh="市博物馆")
    cashier = MerchantStaffFactory(merchant=bikes)
    guide = MerchantStaffFactory(merchant=museum)
    ride = BenefitFactory(merchant=bikes, family="go")
    trip = BenefitFactory(merchant=bikes, family="travel")
    ticket = BenefitFactory(merchant=museum, family="culture")
    for number, (benefit, staff, when) in enumerate(
        [
            (ride, cashier, local(2026, 10, 1, 9, 0)),
            (ride, cashier, local(2026, 11, 1, 9, 0)),
            (trip, cashier, local(2026, 11, 2, 9, 0)),
            (ticket, guide, local(2026, 11, 3, 9, 0)),
            (ticket, guide, local(2025, 1, 3, 9, 0)),  # before the period
        ]
    ):
        token = RedemptionToken.objects.create(
            code=f"T{number:07d}", resident=bo, benefit=benefit, issued_at=when, expires_at=when, used_at=when
        )
        Redemption.objects.create(
            token=token, resident=bo, benefit=benefit, merchant=benefit.merchant, staff=staff,
            tier=tier("good"), nonce=f"n{number}", redeemed_at=when,
        )  # fmt: skip
    return {"anna": anna, "bo": bo, "chen": chen}
