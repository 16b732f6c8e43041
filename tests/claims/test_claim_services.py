"""claim_file, claim_approve, claim_reject: the rules, the single award, the reasons, the roles, the audit."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from citizenpoints.models import AuditEvent, Claim, LedgerEntry, Notification, OfficeRole
from citizenpoints.services.claims import (
    MAX_PENDING,
    ClaimError,
    claim_approve,
    claim_award_estimate,
    claim_file,
    claim_reject,
    claimable_behaviours,
)
from citizenpoints.services.evidence import EvidenceError
from citizenpoints.services.permissions import PermissionRefused
from citizenpoints.services.scoring import window_start_for
from tests.claims.conftest import hours_ago, upload
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def file_claim(resident, *, behaviour_code="neighbour-help", occurred_at=None, photos=None, **values) -> Claim:
    return claim_file(
        resident=resident,
        behaviour_code=behaviour_code,
        description=values.pop("description", "Carried my neighbour's shopping up six floors."),
        occurred_at=occurred_at or hours_ago(3),
        place=values.pop("place", "Block 12, Cuiyuan"),
        photos=photos if photos is not None else [upload()],
        **values,
    )


@pytest.fixture
def reviewer():
    return UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)


def test_only_claimable_behaviours_are_offered(catalogue):
    assert [b.code for b in claimable_behaviours()] == ["neighbour-help", "street-clean"]


def test_filing_stores_the_claim_and_its_photos(catalogue):
    resident = ResidentFactory()
    claim = file_claim(resident, photos=[upload(), upload()])
    assert claim.status == Claim.Status.PENDING and claim.behaviour.code == "neighbour-help"
    assert claim.photos.count() == 2
    assert not LedgerEntry.objects.filter(resident=resident).exists()  # nothing awarded before a review


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"behaviour_code": "museum-visit"}, "not_claimable"),  # needs evidence, but a department awards it
        ({"behaviour_code": "library-loan"}, "not_claimable"),  # the claims source may award it; no evidence
        ({"behaviour_code": "no-such-thing"}, "not_claimable"),
        ({"description": "help"}, "description_required"),
        ({"place": "  "}, "place_required"),
        ({"photos": []}, "photo_required"),
        ({"occurred_at": "future"}, "in_future"),
        ({"occurred_at": "before-window"}, "outside_window"),
        ({"occurred_at": "naive"}, "naive_datetime"),
        ({"behaviour_code": "street-clean"}, "quantity_required"),
        ({"behaviour_code": "street-clean", "quantity": "-1"}, "malformed"),
    ],
)
def test_filing_refusals(catalogue, changes, code):
    resident = ResidentFactory()
    when = changes.get("occurred_at")
    if when == "future":
        changes["occurred_at"] = timezone.now() + datetime.timedelta(hours=2)
    elif when == "before-window":
        changes["occurred_at"] = window_start_for() - datetime.timedelta(days=1)
    elif when == "naive":
        changes["occurred_at"] = datetime.datetime(2026, 1, 1, 10, 0)
    with pytest.raises(ClaimError) as refused:
        file_claim(resident, **changes)
    assert refused.value.code == code
    assert not Claim.objects.exists()


def test_four_photos_are_too_many_and_a_fake_photo_stores_nothing(catalogue, private_root):
    resident = ResidentFactory()
    with pytest.raises(EvidenceError) as refused:
        file_claim(resident, photos=[upload() for _ in range(4)])
    assert refused.value.code == "too_many_photos"
    with pytest.raises(EvidenceError) as refused:
        file_claim(resident, photos=[upload(), upload(b"%PDF-1.7 not a photo", name="x.jpg")])
    assert refused.value.code == "not_an_image"
    assert not Claim.objects.exists() and not list(private_root.rglob("*.jpg"))


def test_a_resident_who_left_cannot_file(catalogue):
    resident = ResidentFactory()
    resident.left_at = timezone.now()
    with pytest.raises(ClaimError) as refused:
        file_claim(resident)
    assert refused.value.code == "not_joined"


def test_pending_claims_are_limited_and_duplicates_refused(catalogue):
    resident = ResidentFactory()
    first = file_claim(resident, occurred_at=hours_ago(1))
    with pytest.raises(ClaimError) as refused:
        file_claim(resident, occurred_at=first.occurred_at)
    assert refused.value.code == "duplicate"
    for hours in range(2, MAX_PENDING + 1):
        file_claim(resident, occurred_at=hours_ago(hours))
    with pytest.raises(ClaimError) as refused:
        file_claim(resident, occurred_at=hours_ago(30))
    assert refused.value.code == "too_many_pending"
    file_claim(ResidentFactory())  # someone else is not held back


def test_a_per_unit_claim_keeps_its_quantity_and_a_fixed_one_drops_it(catalogue):
    resident = ResidentFactory()
    hours = file_claim(resident, behaviour_code="street-clean", quantity="2.5")
    fixed = file_claim(resident, occurred_at=hours_ago(5), quantity="7", amount="100")
    assert hours.quantity == Decimal("2.50") and (fixed.quantity, fixed.amount) == (None, None)


def test_approving_awards_once_through_the_points_core(catalogue, reviewer):
    resident = ResidentFactory()
    claim = file_claim(resident)
    assert claim_award_estimate(claim=claim).points == Decimal("2")

    approved = claim_approve(acting_user=reviewer, claim=claim, note="Thank you!")

    entry = LedgerEntry.objects.get(resident=resident)
    assert approved.status == Claim.Status.APPROVED and approved.ledger_entry == entry
    assert (entry.external_id, entry.source.code, entry.points) == (f"claim:{claim.pk}", "claims", Decimal("2.00"))
    assert entry.occurred_at == claim.occurred_at and entry.behaviour_code == "neighbour-help"
    assert approved.decided_by == reviewer and approved.decision_reason == "Thank you!"
    resident.balance.refresh_from_db()
    assert resident.balance.points == Decimal("2")

    # Again (a double click, a second reviewer agreeing): the same claim, no second award.
    again = claim_approve(acting_user=reviewer, claim=claim)
    assert again.ledger_entry == entry and LedgerEntry.objects.filter(resident=resident).count() == 1

    event = AuditEvent.objects.get(action="claim.approve", object_id=str(claim.pk))
    assert event.actor == reviewer and event.after["points"] == "2.00" and event.before == {"status": "pending"}
    notice = Notification.objects.get(resident=resident)
    assert notice.kind == Notification.Kind.CLAIM_DECIDED
    assert notice.params == {"claim_id": claim.pk, "status": "approved", "points": "2.00"}


def test_a_per_unit_claim_awards_by_its_quantity(catalogue, reviewer):
    claim = file_claim(ResidentFactory(), behaviour_code="street-clean", quantity="3")
    assert claim_approve(acting_user=reviewer, claim=claim).ledger_entry.points == Decimal("3.00")


def test_a_claim_the_cap_leaves_no_room_for_cannot_be_approved_and_says_why(catalogue, reviewer):
    resident = ResidentFactory()
    first, second, third = (file_claim(resident, occurred_at=hours_ago(h)) for h in (1, 2, 3))
    if first.occurred_at.month != third.occurred_at.month:
        pytest.skip("the claims straddle a month boundary")
    claim_approve(acting_user=reviewer, claim=first)
    claim_approve(acting_user=reviewer, claim=second)  # 4 points: the month's cap
    assert claim_award_estimate(claim=third).points is None

    with pytest.raises(ClaimError) as refused:
        claim_approve(acting_user=reviewer, claim=third)

    assert refused.value.code == "award_refused" and refused.value.extra["award_code"] == "cap_reached"
    assert "limit" in refused.value.message
    third.refresh_from_db()
    assert third.status == Claim.Status.PENDING and third.decided_at is None
    assert AuditEvent.objects.filter(action="claim.approve_refused", object_id=str(third.pk)).exists()
    assert Notification.objects.filter(resident=resident).count() == 2  # nothing said about the refused attempt
    # The reviewer rejects it with that reason instead.
    rejected = claim_reject(acting_user=reviewer, claim=third, reason=f"Not approved: {refused.value.message}")
    assert rejected.status == Claim.Status.REJECTED


def test_rejecting_needs_a_reason_the_resident_reads(catalogue, reviewer):
    resident = ResidentFactory()
    claim = file_claim(resident)
    for reason in ("", "   no   ", "too short"):
        with pytest.raises(ClaimError) as refused:
            claim_reject(acting_user=reviewer, claim=claim, reason=reason)
        assert refused.value.code == "reason_required"
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING
    assert AuditEvent.objects.filter(action="claim.reject_refused").count() == 3

    rejected = claim_reject(acting_user=reviewer, claim=claim, reason="  The photo does not show the help given.  ")

    assert (
        rejected.status == Claim.Status.REJECTED
        and rejected.decision_reason == "The photo does not show the help given."
    )
    assert not LedgerEntry.objects.filter(resident=resident).exists()
    assert Notification.objects.get(resident=resident).params["status"] == "rejected"
    event = AuditEvent.objects.get(action="claim.reject")
    assert event.reason == "The photo does not show the help given."


def test_a_decided_claim_cannot_be_decided_the_other_way(catalogue, reviewer):
    claim = file_claim(ResidentFactory())
    claim_reject(acting_user=reviewer, claim=claim, reason="The photo shows a different place.")
    with pytest.raises(ClaimError) as refused:
        claim_approve(acting_user=reviewer, claim=claim)
    assert refused.value.code == "already_decided"
    assert not LedgerEntry.objects.exists()

    other = file_claim(ResidentFactory())
    claim_approve(acting_user=reviewer, claim=other)
    with pytest.raises(ClaimError) as refused:
        claim_reject(acting_user=reviewer, claim=other, reason="Changed my mind about this one.")
    assert refused.value.code == "already_decided"


@pytest.mark.parametrize(
    "roles", [[], [OfficeRole.AUDITOR], [OfficeRole.CATALOGUE_EDITOR], [OfficeRole.PARTNER_MANAGER]]
)
def test_only_reviewers_decide(catalogue, roles):
    resident = ResidentFactory()
    claim = file_claim(resident)
    someone = UserFactory(roles=roles, mfa=bool(roles))
    with pytest.raises(PermissionRefused) as refused:
        claim_approve(acting_user=someone, claim=claim)
    assert refused.value.code == "permission_denied"
    with pytest.raises(PermissionRefused):
        claim_reject(acting_user=someone, claim=claim, reason="This is a long enough reason.")
    # The resident themself cannot either.
    with pytest.raises(PermissionRefused):
        claim_approve(acting_user=resident.user, claim=claim)
    claim.refresh_from_db()
    assert claim.status == Claim.Status.PENDING and not LedgerEntry.objects.exists()


def test_a_superuser_may_decide(catalogue):
    admin = UserFactory(is_superuser=True, is_staff=True, mfa=True)
    assert claim_approve(acting_user=admin, claim=file_claim(ResidentFactory())).status == Claim.Status.APPROVED


def test_a_claim_whose_resident_left_cannot_be_approved(catalogue, reviewer):
    from citizenpoints.services.leaving import resident_leave

    resident = ResidentFactory()
    claim = file_claim(resident)
    resident_leave(resident=resident, acting_user=resident.user)
    with pytest.raises(ClaimError) as refused:
        claim_approve(acting_user=reviewer, claim=claim)
    assert refused.value.extra["award_code"] == "not_joined"
