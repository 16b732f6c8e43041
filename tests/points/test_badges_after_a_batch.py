"""`badges_evaluate_all` for a batch's residents: residents whose whole ledger is shorter than a count badge's
threshold are skipped without reading their entries, and the outcome is exactly the full evaluation's."""

import datetime

import pytest
from django.utils import timezone

from citizenpoints.models import Badge, Category, DataSource, LedgerEntry, OfficeRole, ResidentBadge
from citizenpoints.services.awards import award_grant
from citizenpoints.services.badges import badges_evaluate_all
from citizenpoints.services.reversals import entry_reverse
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def volunteers():
    source = DataSource.objects.create(code="volunteers", name_en="Volunteers", name_zh="志愿者")
    published_catalogue(
        sources=[source],
        behaviours=[
            {"code": "volunteer", "category": "volunteering", "rule": {"points": 3}},
            {"code": "library-loan", "category": "reading-culture", "rule": {"points": 1}},
        ],
    )
    return source


def awards(resident, source, count: int, code: str = "volunteer") -> list[LedgerEntry]:
    now = timezone.now()
    results = [
        award_grant(
            resident=resident,
            behaviour_code=code,
            source=source,
            external_id=f"{resident.pk}-{code}-{n}",
            occurred_at=now - datetime.timedelta(days=1 + n),
        )
        for n in range(count)
    ]
    return [LedgerEntry.objects.get(pk=result.entry.pk) for result in results]


def test_the_threshold_is_reached_exactly_and_shorter_ledgers_are_skipped_without_changing_the_outcome(volunteers):
    exactly, short, reversed_one, other_category = (ResidentFactory() for _ in range(4))
    awards(exactly, volunteers, 3)  # 3 entries: exactly the threshold, so it must be read and granted
    awards(short, volunteers, 2)  # 2 entries: skipped by the balance row, not granted
    entry_reverse(
        entry=awards(reversed_one, volunteers, 3)[0],
        acting_user=UserFactory(roles=[OfficeRole.REVIEWER]),
        reason="Recorded twice by the federation.",
    )  # 4 entries, so read, but only 2 unreversed awards count
    awards(other_category, volunteers, 2)
    awards(other_category, volunteers, 2, code="library-loan")  # 4 entries, 2 in the badge's category
    # A badge created after the awards: only the batch pass can grant it.
    badge = Badge.objects.create(
        code="helper", name_en="Helper", name_zh="帮手", description_en="3 acts", description_zh="3 次", threshold=3
    )
    badge.categories.set([Category.objects.get(code="volunteering")])
    residents = [exactly.pk, short.pk, reversed_one.pk, other_category.pk]

    granted = badges_evaluate_all(resident_ids=residents, category_ids=[badge.categories.get().pk])

    assert granted == 1
    assert list(ResidentBadge.objects.filter(badge=badge).values_list("resident_id", flat=True)) == [exactly.pk]
    # The full evaluation (every resident, no skipping) agrees.
    ResidentBadge.objects.filter(badge=badge).delete()
    assert badges_evaluate_all() == 1
    assert list(ResidentBadge.objects.filter(badge=badge).values_list("resident_id", flat=True)) == [exactly.pk]
