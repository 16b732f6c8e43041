"""The office's resident screens: finding a resident without a card number, reading their ledger, and reversing a
wrong award with a written reason, confirmed, told to the resident, and refused where it must be."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    AuditEvent,
    Balance,
    DataSource,
    LedgerEntry,
    Notification,
    TierChange,
)
from citizenpoints.selectors import resident_access_log
from citizenpoints.services.awards import award_grant
from citizenpoints.services.ingest import card_hash, card_link
from citizenpoints.services.leaving import resident_leave
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.services.scoring import scoring_age
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
CARD = "330100199001011234"
REASON = "The library sent this loan twice; its record L-7 is the same loan."


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def library():
    source = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(
        sources=[source],
        behaviours=[
            {"code": "library-loan", "name_en": "Library loan", "rule": {"points": 2}},
            {"code": "volunteer-day", "category": "volunteering", "rule": {"points": 30}},
        ],
    )
    return source


def award(resident, source, external_id, code="library-loan", days_ago=1):
    return award_grant(
        resident=resident,
        behaviour_code=code,
        source=source,
        external_id=external_id,
        occurred_at=NOW - datetime.timedelta(days=days_ago),
    ).entry


@pytest.fixture
def resident(library):
    resident = ResidentFactory(user__email="mei.lin@example.org", given_name="Mei")
    card_link(resident=resident, card_number=CARD)
    award(resident, library, "L-7")
    award(resident, library, "L-8")
    return resident


@pytest.fixture
def reviewer():
    return UserFactory(roles=["reviewer"], mfa=True)


@pytest.fixture
def office(client, reviewer):
    client.force_login(reviewer)
    return client


def reverse_url(entry):
    return reverse("office:entry_reverse", args=[entry.resident_id, entry.pk])


def no_card_number(html: str) -> None:
    assert CARD not in html
    assert card_hash(CARD) not in html


# --- Reversing through the screen ------------------------------------------------------------------------------------


def test_a_reviewer_reverses_an_award_with_a_reason_after_seeing_what_it_takes_back(office, resident, reviewer):
    entry = resident.ledger_entries.get(external_id="L-8")
    page = office.get(reverse_url(entry))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Why is this record wrong?" in html and "L-8" in html
    no_card_number(html)

    # The reason is required, and said in full: the resident reads it.
    for short in ("", "   ", "Duplicate"):
        page = office.post(reverse_url(entry), {"step": "review", "reason": short})
        assert page.status_code == 200
        assert "at least 10 characters" in page.content.decode()
    # Even a forged confirmation without a real reason changes nothing.
    office.post(reverse_url(entry), {"step": "confirm", "reason": "no"})
    assert not LedgerEntry.objects.filter(kind="reversal").exists()

    # The confirmation shows what is taken back and the new score before anything changes.
    page = office.post(reverse_url(entry), {"step": "review", "reason": REASON})
    html = page.content.decode()
    assert "Check the reversal" in html
    assert "2 points" in html  # taken back
    assert "504 → 502" in html  # score: base 500 + 4, then + 2
    assert "4 → 2" in html  # points in the window
    assert REASON in html
    assert not LedgerEntry.objects.filter(kind="reversal").exists()

    response = office.post(reverse_url(entry), {"step": "confirm", "reason": REASON})
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert response.status_code == 302
    assert response.url == reverse("office:resident", args=[resident.pk]) + f"#entry-{reversal.pk}"
    assert (reversal.reverses, reversal.points, reversal.reason, reversal.decided_by) == (
        entry,
        Decimal("-2.00"),
        REASON,
        reviewer,
    )
    assert Balance.objects.get(resident=resident).points == Decimal("2.00")

    event = AuditEvent.objects.get(action="ledger.reverse")
    assert (event.actor, event.object_id, event.reason) == (reviewer, str(entry.pk), REASON)
    assert event.before["balance"] == "4.00" and event.after["balance"] == "2.00"
    assert event.after["reversal_id"] == reversal.pk

    notice = Notification.objects.get(resident=resident, kind=Notification.Kind.ENTRY_REVERSED)
    assert notice.params == {
        "entry_id": entry.pk,
        "reversal_id": reversal.pk,
        "points": "2.00",
        "behaviour_code": "library-loan",
    }

    # The resident's page now shows the reversal, its reason and who decided, and no more reverse button for it.
    html = office.get(reverse("office:resident", args=[resident.pk])).content.decode()
    assert "Reversed on" in html and REASON in html and reviewer.email in html
    assert reverse_url(entry) not in html
    assert reverse_url(resident.ledger_entries.get(external_id="L-7")) in html
    no_card_number(html)


def test_the_tier_follows_the_reversal(office, library):
    resident = ResidentFactory()
    first = award(resident, library, "V-1", code="volunteer-day")
    award(resident, library, "V-2", code="volunteer-day")
    balance = Balance.objects.select_related("tier").get(resident=resident)
    assert (balance.points, balance.tier.code) == (Decimal("60.00"), "good")  # 560, from 550

    page = office.post(reverse_url(first), {"step": "review", "reason": REASON}).content.decode()
    assert "Good → Getting started" in page and "(changes)" in page
    office.post(reverse_url(first), {"step": "confirm", "reason": REASON})

    balance.refresh_from_db()
    assert (balance.points, balance.tier.code) == (Decimal("30.00"), "getting-started")
    change = TierChange.objects.filter(resident=resident).latest("pk")
    assert (change.cause, change.to_tier.code) == (TierChange.Cause.REVERSAL, "getting-started")


def test_an_award_older_than_the_window_is_marked_but_moves_no_score(office, resident, library, reviewer):
    old = award(resident, library, "L-1", days_ago=360)
    with time_machine.travel(NOW + datetime.timedelta(days=30), tick=False):
        office.force_login(reviewer)  # a month on: a new session
        scoring_age()  # the nightly pass: L-1 leaves the window, L-7 and L-8 stay
        before = Balance.objects.get(resident=resident).points
        assert before == Decimal("4.00")
        page = office.post(reverse_url(old), {"step": "review", "reason": REASON}).content.decode()
        assert "older than the scoring window" in page and "4 → 4" in page
        office.post(reverse_url(old), {"step": "confirm", "reason": REASON})
        assert LedgerEntry.objects.filter(reverses=old).exists()
        assert Balance.objects.get(resident=resident).points == before


def test_an_entry_already_reversed_is_refused_clearly(office, resident, reviewer):
    entry = resident.ledger_entries.get(external_id="L-8")
    entry_reverse(entry=entry, acting_user=reviewer, reason=REASON)

    page = office.get(reverse_url(entry))
    html = page.content.decode()
    assert page.status_code == 200
    assert "This record has already been reversed." in html and 'data-code="already_reversed"' in html
    assert "Why is this record wrong?" not in html  # no form to fill in

    # A colleague's reversal landing between the confirmation page and the click: refused, nothing doubled.
    response = office.post(reverse_url(entry), {"step": "confirm", "reason": REASON})
    assert response.status_code == 409
    assert "This record has already been reversed." in response.content.decode()
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1
    assert Notification.objects.filter(kind=Notification.Kind.ENTRY_REVERSED).count() == 1


def test_a_reversal_is_not_an_award_and_cannot_be_reversed(office, resident, reviewer):
    reversal = entry_reverse(entry=resident.ledger_entries.get(external_id="L-8"), acting_user=reviewer, reason=REASON)
    page = office.get(reverse_url(reversal)).content.decode()
    assert "Only awards can be reversed." in page
    assert office.post(reverse_url(reversal), {"step": "confirm", "reason": REASON}).status_code == 409
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1


def test_a_resident_who_left_cannot_have_records_reversed(office, resident, reviewer):
    entry = resident.ledger_entries.get(external_id="L-8")
    resident_leave(resident=resident, acting_user=resident.user)
    page = office.get(reverse("office:resident", args=[resident.pk])).content.decode()
    assert "left the programme" in page and reverse_url(entry) not in page
    assert "left the programme" in office.get(reverse_url(entry)).content.decode()
    with pytest.raises(ApplicationError) as refused:
        entry_reverse(entry=entry, acting_user=reviewer, reason=REASON)
    assert refused.value.code == "resident_left"
    assert not LedgerEntry.objects.filter(kind="reversal").exists()


def test_an_entry_of_another_resident_is_not_found_under_this_one(office, resident, library):
    other = ResidentFactory()
    theirs = award(other, library, "X-1")
    assert office.get(reverse("office:entry_reverse", args=[resident.pk, theirs.pk])).status_code == 404


@pytest.mark.parametrize("roles", [[], ["catalogue_editor"], ["auditor"], ["data_source_manager"], ["partner_manager"]])
def test_only_reviewers_reverse_in_the_view_and_in_the_service(client, resident, roles):
    user = UserFactory(roles=roles, mfa=True)
    client.force_login(user)
    entry = resident.ledger_entries.get(external_id="L-8")
    for url in (
        reverse("office:residents"),
        reverse("office:resident", args=[resident.pk]),
        reverse_url(entry),
    ):
        assert client.get(url).status_code == 403
    assert client.post(reverse_url(entry), {"step": "confirm", "reason": REASON}).status_code == 403
    assert client.post(reverse("office:residents"), {"by": "number", "number-number": resident.pk}).status_code == 403

    with pytest.raises(ApplicationError) as refused:
        entry_reverse(entry=entry, acting_user=user, reason=REASON)
    assert refused.value.code == "permission_denied"
    assert not LedgerEntry.objects.filter(kind="reversal").exists()
    assert not Notification.objects.filter(kind=Notification.Kind.ENTRY_REVERSED).exists()
    # The refusals are in the audit trail, and nobody "opened" the resident's file.
    assert AuditEvent.objects.filter(actor=user, action="screen.denied").count() == 5
    assert AuditEvent.objects.filter(actor=user, action="permission.denied").count() == 1
    assert not resident_access_log(resident=resident).exists()


def test_signed_out_people_are_sent_to_sign_in(client, resident):
    entry = resident.ledger_entries.get(external_id="L-8")
    response = client.get(reverse_url(entry))
    assert response.status_code == 302 and "/accounts/login/" in response.url


# --- Finding a resident ----------------------------------------------------------------------------------------------


def search(client, by, **fields):
    return client.post(reverse("office:residents"), {"by": by, **{f"{by}-{k}": v for k, v in fields.items()}})


def test_find_by_resident_number(office, resident):
    page = office.get(reverse("office:residents"))
    assert page.status_code == 200
    no_card_number(page.content.decode())
    response = search(office, "number", number=resident.pk)
    assert response.status_code == 302
    assert response.url == reverse("office:resident", args=[resident.pk]) + "?found=number"
    html = office.get(response.url).content.decode()
    assert f"Resident {resident.pk}" in html and "Mei" in html and "L-7" in html and "L-8" in html
    no_card_number(html)

    missing = search(office, "number", number=resident.pk + 1000)
    assert missing.status_code == 200 and "No resident matches" in missing.content.decode()


def test_find_by_the_exact_account_email_only(office, resident):
    response = search(office, "email", email="Mei.Lin@Example.org ")
    assert response.status_code == 302 and response.url.endswith("?found=email")
    # Fragments find nobody: the office cannot browse residents by pieces of their addresses.
    for fragment in ("mei.lin@example", "mei.lin", "example.org"):
        page = search(office, "email", email=fragment)
        assert page.status_code == 200
        assert f"/office/residents/{resident.pk}/" not in page.content.decode()


def test_a_card_number_finds_nobody_and_is_never_shown(office, resident):
    for by, field in (("number", "number"), ("email", "email"), ("record", "external_id")):
        data = {field: CARD}
        if by == "record":
            data["source"] = DataSource.objects.get(code="library").pk
        page = search(office, by, **data)
        assert page.status_code == 200  # no match, no redirect
        assert f"/office/residents/{resident.pk}/" not in page.content.decode()


def test_find_by_a_departments_record_id(office, resident, library):
    entry = resident.ledger_entries.get(external_id="L-7")
    response = search(office, "record", source=library.pk, external_id=" L-7 ")
    assert response.status_code == 302
    assert response.url == reverse("office:resident", args=[resident.pk]) + f"?found=record&entry={entry.pk}#found"
    html = office.get(response.url).content.decode()
    assert "The record you looked for" in html
    no_card_number(html)

    wrong_source = search(office, "record", source=DataSource.objects.get(code="office").pk, external_id="L-7")
    assert "No record from this source has that id." in wrong_source.content.decode()


def test_opening_a_file_is_in_the_residents_access_log(office, resident):
    office.get(reverse("office:resident", args=[resident.pk]) + "?found=email")
    office.get(reverse_url(resident.ledger_entries.first()))
    rows = list(resident_access_log(resident=resident))
    assert [row["after"]["roles"] for row in rows] == [["reviewer"], ["reviewer"]]
    reasons = set(
        AuditEvent.objects.filter(action="resident.view", object_id=str(resident.pk)).values_list("reason", flat=True)
    )
    assert reasons == {"found by the account email the resident gave", "preparing a reversal"}


def test_the_ledger_pages_in_a_fixed_number_of_queries(office, resident, library, django_assert_max_num_queries):
    for number in range(40):
        award(resident, library, f"B-{number}", days_ago=2 + number)
    url = reverse("office:resident", args=[resident.pk])
    with django_assert_max_num_queries(25):
        page = office.get(url)
    assert page.status_code == 200
    assert "42 in all" in page.content.decode()
    assert "Older records" in page.content.decode()
    assert "B-39" in office.get(url + "?page=2").content.decode()
