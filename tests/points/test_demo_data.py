"""The demo data (`manage.py load_demo`): a realistic catalogue and residents at every tier, all through the services.

The demo is loaded once for this module inside a transaction that is rolled back at the end, so the slow part
(a year of records for each resident through award_grant) runs once.
"""

import datetime
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from django.test.utils import override_settings
from django.utils import timezone

from citizenpoints.demo import CATALOGUE, DEPARTMENTS, HISTORIES, SENDERS
from citizenpoints.models import (
    AuditEvent,
    Balance,
    Behaviour,
    CatalogueVersion,
    ConsentRecord,
    DataSource,
    LedgerEntry,
    Resident,
    ResidentBadge,
    TierChange,
    User,
)
from citizenpoints.rules import find_forbidden_topic
from citizenpoints.services.scoring import active_scheme

DEMO_DOMAIN = "demo.citypoints.example"


@pytest.fixture(scope="module")
def demo_output(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), override_settings(DEBUG=True), transaction.atomic():
        out = io.StringIO()
        call_command("load_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def demo(demo_output, db):
    return demo_output


def snapshot() -> dict:
    return {
        "users": User.objects.count(),
        "residents": Resident.objects.count(),
        "consents": ConsentRecord.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "points": Balance.objects.aggregate(total=Sum("points"))["total"],
        "badges": ResidentBadge.objects.count(),
        "tier changes": TierChange.objects.count(),
        "versions": CatalogueVersion.objects.count(),
        "behaviours": Behaviour.objects.count(),
        "sources": DataSource.objects.count(),
        "audit events": AuditEvent.objects.count(),
    }


def published_behaviours():
    return Behaviour.objects.filter(version__status=CatalogueVersion.Status.PUBLISHED)


def test_loading_again_adds_nothing(demo):
    before = snapshot()
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert snapshot() == before
    residents = out.getvalue().split("Demo residents")[1]
    assert residents.count("(0 new") == len(HISTORIES)


def test_loading_again_weeks_later_adds_nothing(demo):
    """The histories are drawn from the accounts' creation date, not today, so their record ids do not move."""
    before = snapshot()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=40), tick=False):
        call_command("load_demo", stdout=io.StringIO())
    assert snapshot() == before


def test_every_tier_of_the_active_scheme_has_a_demo_resident(demo):
    scheme = active_scheme()
    held = set(
        Balance.objects.filter(resident__user__email__endswith=f"@{DEMO_DOMAIN}").values_list("tier_id", flat=True)
    )
    assert {tier.pk for tier in scheme.tiers.all()} <= held


def test_load_demo_prints_each_residents_score_and_tier(demo):
    scheme = active_scheme()
    for balance in Balance.objects.select_related("resident__user", "tier"):
        line = next(line for line in demo.splitlines() if balance.resident.user.email in line and "·" in line)
        assert f"{scheme.base_score + balance.points}" in line and balance.tier.name_en in line


def test_the_catalogue_is_published_rich_and_bilingual(demo):
    behaviours = published_behaviours()
    assert behaviours.count() >= 25
    assert behaviours.values("category").distinct().count() >= 8
    for behaviour in behaviours:
        texts = [behaviour.name_en, behaviour.name_zh, behaviour.description_en, behaviour.description_zh]
        assert all(text.strip() for text in texts), behaviour.code
        assert not any(find_forbidden_topic(text) for text in texts), behaviour.code
        assert behaviour.sources.exists(), behaviour.code
        if behaviour.evidence_required:  # residents claim it; a reviewer decides
            assert set(behaviour.sources.values_list("kind", flat=True)) == {DataSource.Kind.CLAIMS}
    assert {"per_unit", "amount_bands", "fixed"} <= set(behaviours.values_list("rule_kind", flat=True))
    metro = behaviours.get(code="metro-ride")
    assert metro.cap_per_day and metro.cap_per_month


def test_departments_are_named_in_both_languages(demo):
    departments = DataSource.objects.filter(kind=DataSource.Kind.DEPARTMENT)
    assert departments.count() >= len(DEPARTMENTS)
    assert all(source.name_en and source.name_zh for source in departments)


def test_histories_are_real_awards_with_badges_and_a_reversal(demo):
    demo_entries = LedgerEntry.objects.filter(resident__user__email__endswith=f"@{DEMO_DOMAIN}")
    assert demo_entries.values("resident").distinct().count() == len(HISTORIES)
    assert demo_entries.filter(source__kind=DataSource.Kind.DEPARTMENT).exists()
    assert demo_entries.filter(source__kind=DataSource.Kind.CLAIMS).exists()
    assert set(ResidentBadge.objects.values_list("badge__code", flat=True)) >= {
        "love-messenger",
        "sports-master",
        "low-carbon-traveller",
        "good-neighbour",
    }
    reversal = demo_entries.get(kind=LedgerEntry.Kind.REVERSAL)
    assert reversal.reason and reversal.decided_by.email == f"reviewer@{DEMO_DOMAIN}"
    assert reversal.points == -reversal.reverses.points < Decimal(0)
    for resident in Resident.objects.filter(user__email__endswith=f"@{DEMO_DOMAIN}", ledger_entries__isnull=False):
        first = demo_entries.filter(resident=resident).order_by("occurred_at").first()
        assert resident.joined_at < first.occurred_at, resident.user.email  # "member since" reads true


def test_the_ledger_and_balances_verify(demo):
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    call_command("verify_balances", stdout=out)
    assert "Ledger intact" in out.getvalue() and "balances equal the ledger" in out.getvalue()


def test_the_demo_data_is_consistent():
    codes = [spec["code"] for spec in CATALOGUE]
    assert len(codes) == len(set(codes))
    sources_of = {spec["code"]: set(spec["sources"]) for spec in CATALOGUE}
    for code, (source, _prefix) in SENDERS.items():
        assert source in sources_of[code], code
    assert len({prefix for _source, prefix in SENDERS.values()}) == len(SENDERS)
