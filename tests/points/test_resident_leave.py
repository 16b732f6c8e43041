"""`resident_leave`: personal data erased everywhere, the ledger detached but intact, nothing new recorded."""

import datetime
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from benefits.models import Redemption, RedemptionDenial, RedemptionToken, ResidentBenefitUsage
from benefits.services.redemptions import redemption_confirm, redemption_verify
from benefits.services.tokens import token_issue
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    AuditEvent,
    Balance,
    CardLink,
    ConsentRecord,
    IngestRecord,
    LedgerEntry,
    OfficeRole,
    Resident,
    ResidentBadge,
    User,
)
from citizenpoints.personal_data import OnLeave, datasets
from citizenpoints.services.awards import AwardRefused, award_grant
from citizenpoints.services.ingest import batch_process, batch_receive, card_hash, card_link
from citizenpoints.services.leaving import resident_leave
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.residents import resident_join
from citizenpoints.services.scoring import balances_verify
from tests.factories import PASSWORD, BenefitFactory, MerchantStaffFactory, ResidentFactory, UserFactory, place_in_tier
from tests.rights_data import history, library

pytestmark = pytest.mark.django_db

CARD = "330100198001011234"


def verified() -> None:
    assert list(ledger_verify()) == []
    assert list(balances_verify()) == []
    call_command("verify_ledger", stdout=StringIO())
    call_command("verify_balances", stdout=StringIO())


@pytest.fixture
def mei():
    """A resident with a ledger, a card, a redemption, a live QR code and a refused scan."""
    data = history()
    resident = data["residents"]["mixed"]
    card_link(resident=resident, card_number=CARD)
    cashier = MerchantStaffFactory()
    benefit = BenefitFactory(merchant=cashier.merchant)
    place_in_tier(resident, "good")
    used = token_issue(resident=resident, benefit=benefit)
    scan = redemption_verify(acting_user=cashier.user, text=used.payload)
    redemption_confirm(acting_user=cashier.user, text=scan.code, nonce="nonce-00000001")
    live = token_issue(resident=resident, benefit=BenefitFactory(merchant=cashier.merchant))
    RedemptionDenial.objects.create(staff=cashier, merchant=cashier.merchant, token=live.token, step="verify", code="x")
    return resident


def leave(resident: Resident) -> Resident:
    return resident_leave(resident=resident, acting_user=resident.user)


def test_leaving_erases_the_person_and_keeps_the_ledger_whole(mei):
    user = mei.user
    entries_before = list(LedgerEntry.objects.filter(resident=mei).values())
    balance_before = Balance.objects.filter(resident=mei).values().get()
    redemption = Redemption.objects.get(resident=mei)

    left = leave(mei)

    assert left.left_at is not None and left.user_id is None and left.given_name == ""
    assert not User.objects.filter(pk=user.pk).exists()
    assert not EmailAddress.objects.filter(email=user.email).exists()
    assert not CardLink.objects.exists() and not ConsentRecord.objects.filter(resident=mei).exists()
    # The ledger rows and the balance are exactly as they were: not one column changed.
    assert list(LedgerEntry.objects.filter(resident=mei).values()) == entries_before
    assert Balance.objects.filter(resident=mei).values().get() == balance_before
    verified()
    # Benefits: the redemption (and its token, its receipt) stays for the partner, about an anonymous resident;
    # the live QR code and the usage counters are gone; the refused scan lost its link.
    assert Redemption.objects.filter(pk=redemption.pk, resident=mei).exists()
    assert list(RedemptionToken.objects.filter(resident=mei)) == [redemption.token]
    assert not ResidentBenefitUsage.objects.filter(resident=mei).exists()
    assert RedemptionDenial.objects.get().token_id is None
    assert redemption.resident.__class__.objects.get(pk=mei.pk).initial == ""


def test_every_table_declared_erased_or_detached_holds_nothing_about_them_afterwards(mei):
    """The registry says what leaving does with each table; this holds every app to its word."""
    declared = [d for d in datasets() if d.on_leave in {OnLeave.ERASED, OnLeave.DETACHED}]
    assert {"account", "email_addresses", "consents", "card_links", "benefit_usage"} <= {d.name for d in declared}
    assert any(d.rows(mei).exists() for d in declared)
    left = leave(mei)
    for dataset in declared:
        assert not dataset.rows(left).exists(), dataset.name


def test_the_audit_row_of_leaving_names_nobody(mei):
    leave(mei)
    event = AuditEvent.objects.get(action="resident.leave")
    assert event.actor_id is None and event.object_id == str(mei.pk)
    assert set(event.after) == {"left_at"} and not event.reason and event.ip_address is None


def test_sessions_on_every_device_end(mei, client, django_capture_on_commit_callbacks):
    client.post(reverse("account_login"), {"login": mei.user.email, "password": PASSWORD})
    other = client.__class__()
    other.post(reverse("account_login"), {"login": mei.user.email, "password": PASSWORD})
    someone_else = ResidentFactory()
    client_b = client.__class__()
    client_b.force_login(someone_else.user)
    assert Session.objects.count() == 3
    with django_capture_on_commit_callbacks(execute=True):  # the sessions are scanned once the leave has committed
        leave(mei)
    assert Session.objects.count() == 1  # only the other person's
    assert other.get(reverse("home")).status_code == 302


def test_mfa_authenticators_go_with_the_account():
    resident = ResidentFactory()
    from citizenpoints.mfa import totp_enrol

    totp_enrol(user=resident.user)
    assert Authenticator.objects.filter(user=resident.user).exists()
    leave(resident)
    assert not Authenticator.objects.exists()


def test_nothing_new_is_recorded_for_them(mei):
    before = LedgerEntry.objects.filter(resident=mei).count()
    leave(mei)
    # The award service refuses them (by id: their account is gone)...
    with pytest.raises(AwardRefused) as refused:
        award_grant(
            resident=mei.pk,
            behaviour_code="library-loan",
            source=library(),
            external_id="after-leaving",
            occurred_at=timezone.now() - datetime.timedelta(hours=1),
        )
    assert refused.value.code == "not_joined"
    # ...and a department's record with their card finds no one: the card link is gone.
    record = {
        "external_id": "dept-after-leaving",
        "card_number": CARD,
        "behaviour_code": "library-loan",
        "occurred_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
    }
    batch = batch_receive(source=library(), idempotency_key="k1", records=[record]).batch
    batch_process(batch_id=batch.pk)
    assert IngestRecord.objects.get(batch=batch).result == "unknown_card"
    assert LedgerEntry.objects.filter(resident=mei).count() == before
    verified()


def test_ingest_refuses_a_left_resident_even_through_a_stale_card_link(mei):
    """Belt and braces: were a card link to survive (restored from a backup, say), the record is `not_joined`."""
    leave(mei)
    CardLink.objects.create(resident=mei, card_hash=card_hash(CARD))
    record = {
        "external_id": "dept-stale-link",
        "card_number": CARD,
        "behaviour_code": "library-loan",
        "occurred_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
    }
    batch = batch_receive(source=library(), idempotency_key="k2", records=[record]).batch
    batch_process(batch_id=batch.pk)
    assert IngestRecord.objects.get(batch=batch).result == "not_joined"
    verified()


def test_department_records_keep_their_result_without_the_card_or_the_link(mei):
    record = {
        "external_id": "dept-before-leaving",
        "card_number": CARD,
        "behaviour_code": "library-loan",
        "occurred_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
    }
    batch = batch_receive(source=library(), idempotency_key="k3", records=[record]).batch
    batch_process(batch_id=batch.pk)
    assert IngestRecord.objects.get(batch=batch).resident_id == mei.pk
    leave(mei)
    kept = IngestRecord.objects.get(batch=batch)
    assert (kept.result, kept.card_hash, kept.resident_id) == ("accepted", "", None)


def test_rejoining_starts_afresh(mei):
    email = mei.user.email
    leave(mei)
    user = UserFactory(email=email)  # the address is free again: a new sign-up
    again = resident_join(user=user, given_name="Mei", language="zh-hans", accepted_terms_version="2026-11")
    assert again.pk != mei.pk
    assert Balance.objects.get(resident=again).last_seq == 0
    assert not ResidentBadge.objects.filter(resident=again).exists()
    award_grant(
        resident=again,
        behaviour_code="library-loan",
        source=library(),
        external_id="after-rejoining",
        occurred_at=timezone.now() - datetime.timedelta(hours=1),
    )
    assert list(LedgerEntry.objects.filter(resident=again).values_list("seq", flat=True)) == [1]
    verified()


def test_only_the_resident_themself_may_leave(mei):
    def refused(user) -> str:
        with pytest.raises(ApplicationError) as error:
            resident_leave(resident=mei, acting_user=user)
        return error.value.code

    assert refused(ResidentFactory().user) == "not_allowed"
    assert refused(UserFactory(roles=[OfficeRole.AUDITOR], mfa=True)) == "not_allowed"
    leave(mei)
    assert refused(None) == "not_allowed"


def test_leaving_twice_is_refused(mei):
    user = mei.user
    leave(mei)
    with pytest.raises(ApplicationError) as error:
        resident_leave(resident=Resident.objects.get(pk=mei.pk), acting_user=user)
    assert error.value.code in {"already_left", "not_allowed"}


def test_a_staff_account_cannot_leave_here():
    staff = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    resident = ResidentFactory(user=staff)
    with pytest.raises(ApplicationError) as error:
        resident_leave(resident=resident, acting_user=staff)
    assert error.value.code == "staff_account"
    assert Resident.objects.get(pk=resident.pk).left_at is None


def test_a_partner_cashier_who_redeemed_cannot_leave_here_and_nothing_is_erased(mei):
    """Their account is what partner records point at: deleting it would fail, so the whole leave rolls back."""
    cashier = MerchantStaffFactory()
    resident = ResidentFactory(user=cashier.user)
    Redemption.objects.filter(resident=mei).update(staff=cashier)
    card_link(resident=resident, card_number="CARD123456")
    with pytest.raises(ApplicationError) as error:
        resident_leave(resident=resident, acting_user=cashier.user)
    assert error.value.code == "staff_account"
    assert CardLink.objects.filter(resident=resident).exists()
    assert Resident.objects.get(pk=resident.pk).user_id == cashier.user.pk


@pytest.mark.postgres
def test_on_postgresql_leaving_touches_no_ledger_row(mei):
    """The append-only trigger refuses any UPDATE or DELETE: leaving passes through it untouched."""
    leave(mei)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables WHERE relname = %s",
            [LedgerEntry._meta.db_table],
        )
        assert cursor.fetchone() == (0, 0)
    verified()


def test_the_page_asks_for_the_password_again_then_leaves(client, mei):
    """The view: a clear confirmation, allauth's reauthentication, then the account is gone and the session ended."""
    email = mei.user.email
    client.post(reverse("account_login"), {"login": email, "password": PASSWORD})
    page = client.get(reverse("rights_leave")).content.decode()
    assert "Erased" in page and "Kept, anonymous" in page
    asked = client.post(reverse("rights_leave"), {"confirm": "on"})
    assert asked.status_code == 302 and asked.url.startswith(reverse("account_reauthenticate"))
    done = client.post(asked.url, {"password": PASSWORD})  # allauth replays the suspended form once confirmed
    assert done.status_code == 302 and done.url == reverse("rights_left")
    assert not User.objects.filter(email=email).exists()
    assert AuditEvent.objects.get(action="resident.leave").ip_address is None  # an address would name them
    assert client.get(reverse("home")).status_code == 302  # signed out
    assert "You have left CityPoints" in client.get(reverse("rights_left")).content.decode()
