"""The resident's and the office's appeal screens through the test client: who sees what, and the forms work."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from citizenpoints.models import Appeal, AuditEvent, CalendarDay, LedgerEntry, OfficeRole
from citizenpoints.services.appeals import appeal_decide, appeal_file
from tests.appeals.conftest import MONDAY_10AM, award
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

YESTERDAY = MONDAY_10AM - datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


def missing(resident, statement="Borrowed a book; nothing came."):
    return appeal_file(
        resident=resident, subject="missing", statement=statement, behaviour_code="library-loan", occurred_at=YESTERDAY
    )


def test_a_resident_files_missing_points_and_sees_the_deadline_at_once(client, resident):
    client.force_login(resident.user)
    page = client.get(reverse("appeal_missing"))
    assert page.status_code == 200 and "Points I should have received" in page.content.decode()
    response = client.post(
        reverse("appeal_missing"),
        {"behaviour": "library-loan", "occurred_at": "2026-11-15T09:30", "statement": "Two books at the library."},
        follow=True,
    )
    appeal = Appeal.objects.get()
    assert response.redirect_chain[-1][0] == reverse("appeal_detail", args=[appeal.pk])
    html = response.content.decode()
    assert "Your appeal is received." in html
    assert "You will have a decision by" in html and 'Monday <span class="nowrap">Nov. 23, 2026</span>' in html
    assert appeal.occurred_at == datetime.datetime(2026, 11, 15, 1, 30, tzinfo=datetime.UTC)  # 09:30 in Shanghai


def test_the_form_shows_a_refusal_next_to_its_field(client, resident):
    client.force_login(resident.user)
    response = client.post(
        reverse("appeal_missing"),
        {"behaviour": "library-loan", "occurred_at": "2024-01-01T09:30", "statement": "Long ago."},
    )
    assert response.status_code == 200
    assert "before the 12-month scoring window" in response.content.decode()
    assert not Appeal.objects.exists()


def test_the_history_offers_an_appeal_for_each_record(client, resident):
    entry = award(resident, "loan-1", when=YESTERDAY)
    client.force_login(resident.user)
    html = client.get(reverse("history")).content.decode()
    assert reverse("appeal_entry", args=[entry.pk]) in html
    response = client.post(reverse("appeal_entry", args=[entry.pk]), {"statement": "I was abroad."}, follow=True)
    appeal = Appeal.objects.get()
    assert (appeal.subject, appeal.entry) == ("entry", entry)
    # A second visit goes to the open appeal rather than a second form.
    again = client.get(reverse("appeal_entry", args=[entry.pk]))
    assert again.status_code == 302 and again["Location"] == reverse("appeal_detail", args=[appeal.pk])
    assert response.status_code == 200


def test_a_resident_sees_only_their_own_appeals_and_records(client, resident):
    other = ResidentFactory()
    theirs = missing(other, "Someone else's statement")
    their_entry = award(other, "loan-x", when=YESTERDAY)
    mine = missing(resident)
    client.force_login(resident.user)
    listing = client.get(reverse("appeals")).content.decode()
    assert reverse("appeal_detail", args=[mine.pk]) in listing
    assert reverse("appeal_detail", args=[theirs.pk]) not in listing
    assert client.get(reverse("appeal_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("appeal_entry", args=[their_entry.pk])).status_code == 404


def test_the_resident_follows_every_step_to_the_corrected_points(client, resident, reviewer):
    appeal = missing(resident)
    appeal_decide(acting_user=reviewer, appeal=appeal, grant=True, reason="The library's log shows the loan.")
    client.force_login(resident.user)
    html = client.get(reverse("appeal_detail", args=[appeal.pk])).content.decode()
    for text in (
        "Received",
        "Being reviewed",
        "Decided: Granted",
        "The library&#x27;s log shows the loan.",
        "2 points added",
    ):
        assert text in html, text
    assert reviewer.email not in html  # residents read "the credit office", never a person
    history = client.get(reverse("history")).content.decode()
    assert reverse("appeal_detail", args=[appeal.pk]) in history  # the award links back to its reasons


def test_chinese_acknowledgement(client, resident):
    resident.language = "zh-hans"
    resident.save()
    appeal = missing(resident)
    client.force_login(resident.user)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("appeal_detail", args=[appeal.pk])).content.decode()
    assert "2026年11月23日" in html


# --- Office.
def test_the_queue_lists_open_appeals_first_with_overdue_ones_in_words(client, resident, reviewer):
    late = missing(resident, "Late one")
    with time_machine.travel(MONDAY_10AM + datetime.timedelta(days=8), tick=False):
        fresh = missing(resident, "Fresh one")
        client.force_login(reviewer)
        html = client.get(reverse("office:appeals")).content.decode()
    assert html.index(f"Appeal {late.pk}<") < html.index(f"Appeal {fresh.pk}<")
    assert "Overdue by 1 working day" in html and 'class="overdue"' in html
    assert "1 is overdue." in html
    with time_machine.travel(MONDAY_10AM + datetime.timedelta(days=8), tick=False):
        only_late = client.get(reverse("office:appeals"), {"status": "open", "overdue": "on"}).content.decode()
    assert f"Appeal {late.pk}<" in only_late and f"Appeal {fresh.pk}<" not in only_late


def test_a_reviewer_starts_the_review_and_grants_with_reasons(client, resident, reviewer):
    appeal = missing(resident)
    client.force_login(reviewer)
    detail = client.get(reverse("office:appeal", args=[appeal.pk])).content.decode()
    assert "Borrowed a book; nothing came." in detail and "Start the review" in detail
    # Opening the appeal is in the resident's access log.
    assert AuditEvent.objects.filter(action="resident.view", object_id=str(resident.pk), actor=reviewer).exists()
    client.post(reverse("office:appeal_review", args=[appeal.pk]))
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.IN_REVIEW
    response = client.post(
        reverse("office:appeal_decide", args=[appeal.pk]),
        {"decision": "grant", "reason": "The library's log shows the loan."},
        follow=True,
    )
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.GRANTED and appeal.correction.points == 2
    assert "granted; the ledger is corrected" in response.content.decode()


def test_a_refused_correction_is_shown_to_the_reviewer(client, resident, reviewer):
    for number in range(2):
        award(resident, f"loan-{number}", when=YESTERDAY)
    appeal = missing(resident)
    client.force_login(reviewer)
    response = client.post(
        reverse("office:appeal_decide", args=[appeal.pk]), {"decision": "grant", "reason": "The loan happened."}
    )
    assert response.status_code == 409
    assert "The ledger cannot be corrected" in response.content.decode()
    assert LedgerEntry.objects.count() == 2


@pytest.mark.parametrize("role", [OfficeRole.AUDITOR])
def test_auditors_read_but_may_not_decide(client, resident, role):
    appeal = missing(resident)
    auditor = UserFactory(roles=[role], mfa=True)
    client.force_login(auditor)
    assert client.get(reverse("office:appeals")).status_code == 200
    assert "Record the decision" not in client.get(reverse("office:appeal", args=[appeal.pk])).content.decode()
    for name in ("office:appeal_review", "office:appeal_decide"):
        assert (
            client.post(reverse(name, args=[appeal.pk]), {"decision": "grant", "reason": "x" * 20}).status_code == 403
        )
    assert client.get(reverse("office:calendar_day_new")).status_code == 403
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.RECEIVED


def test_residents_and_other_staff_cannot_open_the_office_screens(client, resident):
    appeal = missing(resident)
    for user in (resident.user, UserFactory(roles=[OfficeRole.PARTNER_MANAGER], mfa=True)):
        client.force_login(user)
        for url in (reverse("office:appeals"), reverse("office:appeal", args=[appeal.pk]), reverse("office:calendar")):
            assert client.get(url).status_code == 403, (user, url)


def test_a_reviewer_keeps_the_calendar(client, reviewer):
    client.force_login(reviewer)
    response = client.post(
        reverse("office:calendar_day_new"),
        {"date": "2026-12-31", "is_working_day": "0", "name_en": "Year-end closure", "name_zh": "年末停业"},
        follow=True,
    )
    day = CalendarDay.objects.get()
    assert not day.is_working_day and "Year-end closure" in response.content.decode()
    client.post(
        reverse("office:calendar_day_edit", args=[day.pk]),
        {"date": "2026-12-31", "is_working_day": "0", "name_en": "Closure", "name_zh": "停业"},
    )
    day.refresh_from_db()
    assert day.name_en == "Closure"
    refused = client.post(
        reverse("office:calendar_day_new"),
        {"date": "2026-12-30", "is_working_day": "1", "name_en": "x", "name_zh": "x"},
    )
    assert "the office works it anyway" in refused.content.decode()
    client.post(reverse("office:calendar_day_remove", args=[day.pk]))
    assert not CalendarDay.objects.exists()
    assert "2026" in client.get(reverse("office:calendar"), {"year": "2026"}).content.decode()


def test_every_subject_renders_for_the_resident_and_the_office(client, resident, reviewer, second_reviewer):
    from citizenpoints.models import Behaviour, Claim
    from citizenpoints.services.reversals import entry_reverse

    wrong = award(resident, "loan-1", when=YESTERDAY)
    taken = award(resident, "loan-2", when=YESTERDAY - datetime.timedelta(days=1))
    reversal = entry_reverse(entry=taken, acting_user=second_reviewer, reason="Looked like a duplicate.")
    claim = Claim.objects.create(
        resident=resident,
        behaviour=Behaviour.objects.get(code="neighbour-help", version__status="published"),
        description="Carried shopping upstairs",
        occurred_at=YESTERDAY,
        place="Building 3",
        status=Claim.Status.REJECTED,
        decided_at=MONDAY_10AM,
        decided_by=second_reviewer,
        decision_reason="No photo of the act.",
    )
    appeals = [
        appeal_file(resident=resident, subject="entry", entry=wrong, statement="Not my loan."),
        appeal_file(resident=resident, subject="reversal", entry=reversal, statement="Two different books."),
        appeal_file(resident=resident, subject="claim", claim=claim, statement="My neighbour confirms it."),
    ]
    client.force_login(resident.user)
    assert "Appeal this decision" in client.get(reverse("claim_detail", args=[claim.pk])).content.decode()
    for appeal in appeals:
        assert client.get(reverse("appeal_detail", args=[appeal.pk])).status_code == 200
    assert client.get(reverse("appeal_claim", args=[claim.pk])).status_code == 302  # already appealed
    client.force_login(reviewer)
    for appeal in appeals:
        html = client.get(reverse("office:appeal", args=[appeal.pk])).content.decode()
        assert "Record the decision" in html, appeal.subject
    for appeal in appeals:
        response = client.post(
            reverse("office:appeal_decide", args=[appeal.pk]),
            {"decision": "grant", "reason": "Checked against the records: granted."},
        )
        assert response.status_code == 302, (appeal.subject, response.content.decode()[:500])
    client.force_login(resident.user)
    for appeal in appeals:
        html = client.get(reverse("appeal_detail", args=[appeal.pk])).content.decode()
        assert "Checked against the records: granted." in html and "Decided: Granted" in html
    from citizenpoints.services.ledger import ledger_verify
    from citizenpoints.services.scoring import balances_verify

    assert list(ledger_verify()) == [] and list(balances_verify()) == []
