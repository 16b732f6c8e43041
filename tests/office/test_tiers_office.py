"""Tier schemes in the office: every scheme with how many residents each tier holds (or would hold), and the switch
by a catalogue editor with a reason, which re-tiers everyone and leaves the ledger alone."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from citizenpoints.models import AuditEvent, Balance, LedgerEntry, TierScheme
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def residents():
    """Scores under five bands (base 500): 500, 560, 760. Under grades (base 1,000): 1,000, 1,060, 1,260."""
    people = ResidentFactory.create_batch(3)
    for resident, points in zip(people, ["0", "60", "260"], strict=True):
        Balance.objects.filter(resident=resident).update(points=Decimal(points))
    return people


def rows(html: str, scheme: str) -> str:
    return html[html.index(f'id="scheme-{scheme}"') :].split("</section>")[0]


def counts(html: str) -> list[int]:
    """Residents per tier, highest tier first, as the table lists them."""
    return [int(n) for n in re.findall(r'<td class="number">(\d+)</td>', html)]


def test_readers_see_each_tier_count_today_and_under_the_other_scheme(client, residents):
    client.force_login(UserFactory(roles=["reviewer"], mfa=True))
    page = client.get(reverse("office:tiers")).content.decode()
    five, grades = rows(page, "five-bands"), rows(page, "grades")
    assert "Residents in each tier today" in five and "if this scheme were active today" in grades
    assert counts(five) == [1, 0, 0, 1, 1]  # excellent, outstanding, very good, good, getting started
    assert counts(grades) == [1, 0, 0, 1, 0, 1]  # AAA .. D
    assert "Switch to" not in page  # reviewers read; only catalogue editors switch


def test_an_editor_switches_with_a_reason_and_a_confirmation(client, residents):
    client.force_login(UserFactory(roles=["catalogue_editor"], mfa=True))
    url = reverse("office:tier_switch", args=["grades"])
    refused = client.post(url, {"grades-reason": "Short", "grades-confirm": ""})
    assert refused.status_code == 400 and TierScheme.objects.get(is_active=True).code == "five-bands"
    entries = LedgerEntry.objects.count()
    response = client.post(url, {"grades-reason": "The city adopts the Seashell grades.", "grades-confirm": "on"})
    assert response.status_code == 302
    assert TierScheme.objects.get(is_active=True).code == "grades"
    assert sorted(Balance.objects.values_list("tier__code", flat=True)) == ["aaa", "b", "d"]
    assert LedgerEntry.objects.count() == entries
    event = AuditEvent.objects.get(action="tiers.switch_scheme")
    assert event.reason == "The city adopts the Seashell grades."
    assert "is active" in client.get(reverse("office:tiers")).content.decode()


@pytest.mark.parametrize("role", ["reviewer", "auditor", "partner_manager", "data_source_manager"])
def test_only_catalogue_editors_switch(client, residents, role):
    client.force_login(UserFactory(roles=[role], mfa=True))
    url = reverse("office:tier_switch", args=["grades"])
    response = client.post(url, {"grades-reason": "The city adopts the Seashell grades.", "grades-confirm": "on"})
    assert response.status_code == 403
    assert TierScheme.objects.get(is_active=True).code == "five-bands"
    assert AuditEvent.objects.filter(action="screen.denied", object_id=url).count() == 1
