"""The demo's calendar and appeals: China's holidays, and appeals in every state, filed through the services, once."""

import datetime

import pytest
from django.utils import timezone

from citizenpoints.appeals_data import load_demo
from citizenpoints.management.commands.load_demo import DEMO_DOMAIN
from citizenpoints.models import Appeal, CalendarDay, DataSource, OfficeRole
from citizenpoints.services.awards import award_grant
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.services.scoring import balances_verify
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db


def test_the_demo_loads_holidays_and_appeals_in_every_state_once():
    museum = DataSource.objects.create(code="culture-tourism", name_en="Culture", name_zh="文旅局")
    published_catalogue(sources=[museum], behaviours=[{"code": "museum-visit", "rule": {"points": 1}}])
    residents = {
        name: ResidentFactory(user__email=f"{name}@{DEMO_DOMAIN}") for name in ("li.na", "wang.wei", "emma.clarke")
    }
    reviewer = UserFactory(email=f"reviewer@{DEMO_DOMAIN}", roles=[OfficeRole.REVIEWER], mfa=True)
    entry = award_grant(
        resident=residents["li.na"],
        behaviour_code="museum-visit",
        source=museum,
        external_id="visit-1",
        occurred_at=timezone.now() - datetime.timedelta(days=20),
    ).entry
    entry_reverse(entry=entry, acting_user=reviewer, reason="Looked like a duplicate record.")

    load_demo(sender=None)

    assert CalendarDay.objects.filter(date=datetime.date(2026, 10, 1), is_working_day=False).exists()
    states = {
        (appeal.resident.user.email.split("@")[0], appeal.subject, appeal.status) for appeal in Appeal.objects.all()
    }
    assert states == {
        ("li.na", "missing", "received"),
        ("wang.wei", "missing", "in_review"),
        ("li.na", "reversal", "received"),
        ("emma.clarke", "missing", "granted"),
    }
    late = Appeal.objects.get(resident=residents["wang.wei"])
    assert late.due_on < timezone.localdate()  # overdue, for the queue to show
    assert Appeal.objects.get(status="granted").correction.points == 1
    assert list(ledger_verify()) == [] and list(balances_verify()) == []

    count = Appeal.objects.count()
    load_demo(sender=None)
    assert Appeal.objects.count() == count
