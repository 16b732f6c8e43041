import datetime

import pytest
import time_machine
from django.core.management import call_command

from citizenpoints.models import Badge, Balance, DataSource, ResidentBadge, ScoringWindow
from citizenpoints.services.awards import award_grant
from citizenpoints.services.nightly import nightly_pass
from citizenpoints.services.scoring import balances_verify
from tests.factories import ResidentFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def library():
    source = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(
        sources=[source], behaviours=[{"code": "volunteer", "category": "volunteering", "rule": {"points": 30}}]
    )
    return source


def test_points_age_out_and_only_those_residents_move_tier(library):
    with time_machine.travel(NOW - datetime.timedelta(days=360), tick=False):
        ScoringWindow.objects.update(
            starts_at=NOW - datetime.timedelta(days=800), aged_at=NOW - datetime.timedelta(days=360)
        )
        old = ResidentFactory()
        for n in range(2):
            award_grant(
                resident=old,
                behaviour_code="volunteer",
                source=library,
                external_id=f"o{n}",
                occurred_at=NOW - datetime.timedelta(days=360),
            )
    with time_machine.travel(NOW, tick=False):
        fresh = ResidentFactory()
        for n in range(2):
            award_grant(
                resident=fresh,
                behaviour_code="volunteer",
                source=library,
                external_id=f"f{n}",
                occurred_at=NOW - datetime.timedelta(days=1),
            )
    assert {b.tier.code for b in Balance.objects.filter(resident__in=[old, fresh])} == {"good"}  # 500 + 60

    with time_machine.travel(NOW + datetime.timedelta(days=10), tick=False):
        result = nightly_pass()
    assert result["balances_aged"] == 1 and result["tier_changes"] == 1
    assert Balance.objects.get(resident=old).tier.code == "getting-started"
    assert Balance.objects.get(resident=fresh).tier.code == "good"
    assert list(balances_verify()) == []


def test_badges_the_awards_missed_are_granted_at_night_for_recent_residents_or_everyone(library):
    with time_machine.travel(NOW, tick=False):
        resident = ResidentFactory()
        for n in range(3):
            award_grant(
                resident=resident,
                behaviour_code="volunteer",
                source=library,
                external_id=f"v{n}",
                occurred_at=NOW - datetime.timedelta(days=2),
            )
        # A badge added after the records: the per-award check never saw it.
        badge = Badge.objects.create(
            code="helper",
            name_en="Helper",
            name_zh="帮手",
            description_en="3 records",
            description_zh="3 次",
            threshold=3,
        )
        badge.categories.set(Badge.objects.get(code="love-messenger").categories.all())
        ScoringWindow.objects.update(aged_at=NOW + datetime.timedelta(days=1))  # a pass ran since the records
    with time_machine.travel(NOW + datetime.timedelta(days=2), tick=False):
        nightly_pass()
        assert not ResidentBadge.objects.filter(badge=badge).exists()  # no recent entries: not evaluated
        call_command("age_points", "--all-badges")
    assert ResidentBadge.objects.filter(badge=badge, resident=resident).exists()
