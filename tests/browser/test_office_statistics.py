"""The statistics screen as an officer sees it, on a desk and on a phone, in both languages."""

import datetime
import random
from collections import Counter

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from benefits.models import Redemption, RedemptionToken
from citizenpoints.models import (
    Appeal,
    Badge,
    Behaviour,
    Claim,
    DataSource,
    IngestBatch,
    IngestRecord,
    OfficeRole,
    Resident,
    ResidentBadge,
)
from citizenpoints.services.awards import award_grant
from tests.browser.test_office_ingest import sign_in
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

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DESK = {"width": 1280, "height": 900}
BEHAVIOURS = [
    ("volunteer-shift", "volunteering", 5),
    ("library-loan", "reading-culture", 1),
    ("metro-trip", "green-travel", 1),
    ("gym-visit", "sport-fitness", 2),
    ("blood-donation", "blood-donation", 20),
    ("elderly-visit", "community-care", 3),
]


def showcase(reviewer) -> None:
    """A year of a small city: enough in every statistic for the charts to mean something."""
    rng = random.Random(6)
    now = timezone.now()
    sources = {
        code: DataSource.objects.create(code=code, name_en=en, name_zh=zh)
        for code, en, zh in [
            ("library", "City Library", "市图书馆"),
            ("metro", "Metro Group", "地铁集团"),
            ("volunteers", "Volunteer Federation", "志愿者联合会"),
        ]
    }
    published_catalogue(
        sources=list(sources.values()),
        behaviours=[
            {"code": code, "category": category, "rule": {"points": points}} for code, category, points in BEHAVIOURS
        ],
    )
    residents = [ResidentFactory() for _ in range(12)]
    for number in range(160):
        code = rng.choice(BEHAVIOURS[: 2 + number % 5])[0]
        award_grant(
            resident=rng.choice(residents),
            behaviour_code=code,
            source=sources["library"],
            external_id=f"show-{number}",
            occurred_at=now - datetime.timedelta(days=rng.uniform(0.1, 330) ** 0.93),
        )
    for resident, code in zip(
        residents,
        ["getting-started"] * 3 + ["good"] * 4 + ["very-good"] * 3 + ["outstanding", "excellent"],
        strict=True,
    ):
        place_in_tier(resident, code)
    Resident.objects.filter(pk=residents[0].pk).update(left_at=now, user=None)
    badges = list(Badge.objects.all())
    for index, resident in enumerate(residents):
        for badge in badges[: 1 + index % 3]:
            ResidentBadge.objects.create(
                resident=resident, badge=badge, awarded_at=now - datetime.timedelta(days=rng.uniform(1, 330))
            )
    loan = Behaviour.objects.get(code="library-loan", version__status="published")
    for number in range(40):
        filed = now - datetime.timedelta(days=rng.uniform(1, 330))
        decided = filed + datetime.timedelta(days=rng.uniform(0.5, 9))
        status = rng.choice([Appeal.Status.GRANTED, Appeal.Status.REFUSED]) if decided < now else Appeal.Status.RECEIVED
        if number % 9 == 0:
            status = Appeal.Status.RECEIVED
        is_open = status == Appeal.Status.RECEIVED
        Appeal.objects.create(
            resident=residents[number % 12], subject=Appeal.Subject.MISSING_POINTS, behaviour=loan,
            occurred_at=filed - datetime.timedelta(days=2), statement="I returned it.", status=status,
            filed_at=filed, due_on=(filed + datetime.timedelta(days=7)).date(),
            decided_at=None if is_open else decided, decided_by=None if is_open else reviewer,
            decision_reason="" if is_open else "Checked.",
        )  # fmt: skip
        claim_status = [Claim.Status.APPROVED, Claim.Status.APPROVED, Claim.Status.REJECTED, Claim.Status.PENDING]
        status = claim_status[number % 4]
        Claim.objects.create(
            resident=residents[number % 12], behaviour=loan, description="Returned a book", place="Library",
            occurred_at=filed, filed_at=filed, status=status,
            decided_at=None if status == Claim.Status.PENDING else min(decided, now),
            decided_by=None if status == Claim.Status.PENDING else reviewer,
            decision_reason="No receipt." if status == Claim.Status.REJECTED else "",
        )  # fmt: skip
    results = IngestRecord.Result
    outcomes = [results.ACCEPTED] * 20 + [
        results.DUPLICATE,
        results.UNKNOWN_CARD,
        results.CAP_REACHED,
        results.MALFORMED,
    ]
    for number in range(18):
        source = list(sources.values())[number % 3]
        batch = IngestBatch.objects.create(
            source=source, idempotency_key=f"show-{number}", body_hash="0" * 64, status=IngestBatch.Status.DONE,
            received_at=now - datetime.timedelta(days=rng.uniform(1, 300)),
        )  # fmt: skip
        records = IngestRecord.objects.bulk_create(
            IngestRecord(batch=batch, line=line, external_id=f"r{line}", result=rng.choice(outcomes))
            for line in range(1, rng.randint(20, 120))
        )
        batch.counts = dict(Counter(record.result for record in records))  # as batch_process leaves them
        batch.save(update_fields=["counts"])
    partners = [
        ("city-bikes", "City Bikes", "城市单车", ["go", "travel"]),
        ("museum", "City Museum", "市博物馆", ["culture"]),
        ("fresh-market", "Fresh Market", "鲜果超市", ["shopping", "health"]),
    ]
    token = 0
    for slug, en, zh, families in partners:
        merchant = MerchantFactory(slug=slug, name_en=en, name_zh=zh)
        staff = MerchantStaffFactory(merchant=merchant)
        for family in families:
            benefit = BenefitFactory(merchant=merchant, family=family)
            for _ in range(rng.randint(3, 25)):
                token += 1
                when = now - datetime.timedelta(days=rng.uniform(1, 300))
                resident = residents[token % 12]
                code = RedemptionToken.objects.create(
                    code=f"S{token:07d}",
                    resident=resident,
                    benefit=benefit,
                    issued_at=when,
                    expires_at=when,
                    used_at=when,
                )
                Redemption.objects.create(
                    token=code, resident=resident, benefit=benefit, merchant=merchant, staff=staff,
                    tier=tier("good"), nonce=f"n{token}", redeemed_at=when,
                )  # fmt: skip


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_auditor_reads_the_statistics(page, live_server, axe_check, screenshot, csp_violations, language):
    reviewer = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    showcase(reviewer)
    sign_in(page, UserFactory(roles=[OfficeRole.AUDITOR], mfa=True), live_server)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    suffix = "zh" if language == "zh-hans" else "en"

    page.set_viewport_size(DESK)
    page.goto(f"{live_server.url}/office/statistics/")
    heading = "统计" if language == "zh-hans" else "Statistics"
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    assert page.locator("svg[role=img]").count() == 7
    axe_check(page)
    screenshot(page, f"office-statistics-desk-{suffix}")

    page.locator("details.numbers summary").first.click()
    page.set_viewport_size({"width": 360, "height": 780})
    axe_check(page)
    screenshot(page, f"office-statistics-phone-{suffix}")
    assert csp_violations == []

    with page.expect_download() as download:
        page.locator("#appeals .export a").click()
    assert download.value.suggested_filename.startswith("appeals-")
