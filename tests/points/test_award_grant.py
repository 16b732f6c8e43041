import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from citizenpoints.models import Balance, DataSource, LedgerEntry, ResidentBadge, TierChange
from citizenpoints.services.awards import AwardRefused, award_grant
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def library():
    return DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")


@pytest.fixture
def catalogue(library):
    return published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "library-loan", "rule": {"points": 1}, "cap_per_day": 3, "cap_per_month": 10},
            {"code": "volunteer-hours", "category": "volunteering", "rule_kind": "per_unit",
             "rule": {"unit": "hour", "steps": [[20, 1], [80, 2], [200, 3], [None, 4]]}},
            {"code": "donation", "category": "charity", "rule_kind": "amount_bands",
             "rule": {"unit": "yuan", "bands": [[1000, 10000, 5], [10000, None, 10]]}},
        ],
    )  # fmt: skip


def grant(resident, external_id, code="library-loan", source=None, occurred_at=None, **kwargs):
    return award_grant(
        resident=resident,
        behaviour_code=code,
        source=source or DataSource.objects.get(code="library"),
        external_id=external_id,
        occurred_at=occurred_at or NOW - datetime.timedelta(hours=1),
        **kwargs,
    )


def test_an_award_explains_itself_and_moves_the_balance(catalogue):
    resident = ResidentFactory()
    result = grant(resident, "loan-1")
    entry = result.entry
    assert result.created
    assert (entry.behaviour_code, entry.catalogue_version, entry.source.code) == ("library-loan", catalogue, "library")
    assert entry.points == Decimal("1.00") and entry.recorded_at == NOW
    assert Balance.objects.get(resident=resident).points == Decimal(1)
    assert list(ledger_verify()) == [] and list(balances_verify()) == []


def test_the_same_record_twice_awards_once(catalogue):
    resident = ResidentFactory()
    first = grant(resident, "loan-1")
    again = grant(resident, "loan-1")
    assert not again.created and again.entry.pk == first.entry.pk
    assert LedgerEntry.objects.count() == 1


def test_caps_reduce_then_refuse(catalogue):
    resident = ResidentFactory()
    for n in range(3):
        grant(resident, f"loan-{n}")
    with pytest.raises(AwardRefused) as refused:
        grant(resident, "loan-4")
    assert refused.value.code == "cap_reached"
    assert Balance.objects.get(resident=resident).points == 3


def test_weihai_volunteer_hours_diminish_over_the_year(catalogue):
    resident = ResidentFactory()
    first = grant(resident, "v1", code="volunteer-hours", quantity=30)  # 20 h at 1 + 10 h at 1/2
    assert first.entry.points == Decimal("25.00")
    second = grant(resident, "v2", code="volunteer-hours", quantity=1)  # still in the 1-per-2-hours band
    assert second.entry.points == Decimal("0.50")


def test_donation_bands(catalogue):
    resident = ResidentFactory()
    assert grant(resident, "d1", code="donation", amount="1000").entry.points == 5
    with pytest.raises(AwardRefused) as refused:
        grant(resident, "d2", code="donation", amount="999.99")
    assert refused.value.code == "below_minimum"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"code": "no-such-thing"}, "unknown_behaviour"),
        ({"occurred_at": NOW + datetime.timedelta(hours=1)}, "in_future"),
        ({"occurred_at": NOW - datetime.timedelta(days=400)}, "outside_window"),
        ({"occurred_at": datetime.datetime(2026, 11, 1, 9, 0)}, "naive_datetime"),
        ({"external_id": ""}, "malformed"),
        ({"code": "volunteer-hours"}, "quantity_required"),
        ({"code": "donation", "amount": "-5"}, "malformed"),
    ],
)
def test_refusals_write_nothing(catalogue, overrides, code):
    resident = ResidentFactory()
    arguments = {"external_id": "x-1", **overrides}
    with pytest.raises(AwardRefused) as refused:
        grant(resident, **arguments)
    assert refused.value.code == code
    assert not LedgerEntry.objects.exists()
    assert Balance.objects.get(resident=resident).points == 0


def test_a_source_may_award_only_its_behaviours(catalogue):
    metro = DataSource.objects.create(code="metro", name_en="Metro", name_zh="地铁")
    with pytest.raises(AwardRefused) as refused:
        grant(ResidentFactory(), "ride-1", source=metro)
    assert refused.value.code == "not_authorised"


def test_accounts_that_have_not_joined_earn_nothing(catalogue):
    user = UserFactory()
    from citizenpoints.models import Resident

    outsider = Resident.objects.create(user=user, given_name="Not yet", terms_version="x")  # no balance: not joined
    with pytest.raises(AwardRefused) as refused:
        grant(outsider, "loan-1")
    assert refused.value.code == "not_joined"
    with pytest.raises(AwardRefused) as refused:
        grant(999_999, "loan-2")
    assert refused.value.code == "unknown_resident"


def test_tier_changes_are_recorded(catalogue):
    resident = ResidentFactory()
    grant(resident, "v1", code="volunteer-hours", quantity=60)  # 20 + 20 = 40 points
    grant(resident, "d1", code="donation", amount=20000)  # +10 -> 550: "Good"
    balance = Balance.objects.get(resident=resident)
    assert balance.points == 50 and balance.tier.code == "good"
    assert TierChange.objects.filter(resident=resident, to_tier__code="good").exists()


def test_badges_are_awarded_once(catalogue):
    resident = ResidentFactory()
    for n in range(10):
        grant(resident, f"v{n}", code="volunteer-hours", quantity=1, occurred_at=NOW - datetime.timedelta(days=n))
    grant(resident, "v10", code="volunteer-hours", quantity=1)
    assert list(ResidentBadge.objects.filter(resident=resident).values_list("badge__code", flat=True)) == [
        "love-messenger"
    ]
    assert ResidentBadge.objects.get(resident=resident).awarded_at == timezone.now()
