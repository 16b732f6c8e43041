import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import AuditEvent, Balance, LedgerEntry, TierChange, TierScheme
from citizenpoints.services.tiers import tier_scheme_switch
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_switching_re_tiers_everyone_and_is_audited():
    residents = ResidentFactory.create_batch(3)
    editor = UserFactory(roles=["catalogue_editor"])
    grades = TierScheme.objects.get(code="grades")

    changes = tier_scheme_switch(acting_user=editor, scheme=grades, reason="Council decision 2026/14")

    assert changes == 3
    assert set(Balance.objects.values_list("tier__code", flat=True)) == {"d"}
    assert TierChange.objects.filter(cause="scheme", to_tier__code="d").count() == len(residents)
    assert not LedgerEntry.objects.exists()
    event = AuditEvent.objects.get(action="tiers.switch_scheme")
    assert (event.actor, event.reason) == (editor, "Council decision 2026/14")


def test_only_catalogue_editors_switch_schemes():
    reviewer = UserFactory(roles=["reviewer"])
    with pytest.raises(ApplicationError) as refused:
        tier_scheme_switch(acting_user=reviewer, scheme=TierScheme.objects.get(code="grades"), reason="x")
    assert refused.value.code == "permission_denied"
    assert TierScheme.objects.get(is_active=True).code == "five-bands"


def test_command_reports_refusals():
    editor = UserFactory(roles=["catalogue_editor"])
    with pytest.raises(CommandError, match="already_active"):
        call_command("switch_tier_scheme", "five-bands", by=editor.email, reason="no-op")
    call_command("switch_tier_scheme", "grades", by=editor.email, reason="Trying the Seashell grades")
    assert TierScheme.objects.get(is_active=True).code == "grades"


def test_a_scheme_without_tiers_is_refused_with_its_reason():
    empty = TierScheme.objects.create(code="empty", name_en="Empty", name_zh="空", base_score=0)
    with pytest.raises(ApplicationError) as refused:
        tier_scheme_switch(acting_user=UserFactory(roles=["catalogue_editor"]), scheme=empty, reason="Trying it")
    assert refused.value.code == "no_tiers"
    assert TierScheme.objects.get(is_active=True).code != "empty"
