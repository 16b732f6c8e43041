"""Claims: a resident asks for points for a behaviour that needs evidence; a reviewer approves (the points core awards
them, once) or rejects with a reason the resident reads.

Writes: `claim_file` (the resident), `claim_approve` and `claim_reject` (a reviewer). Reads for the screens:
`claimable_behaviours`, `claims_of_resident`, `claim_queue`, `claim_award_estimate`.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    Behaviour,
    CatalogueVersion,
    Claim,
    DataSource,
    LedgerEntry,
    Notification,
    OfficeRole,
    Resident,
    User,
)
from citizenpoints.rules import CENT, AmountBandRule, PerUnitRule
from citizenpoints.services.audit import audit_record
from citizenpoints.services.awards import (
    AwardRefused,
    award_grant,
    occurred_at_refusal,
    period_bounds,
    published_behaviour,
)
from citizenpoints.services.evidence import photo_files_delete, photos_attach, photos_clean
from citizenpoints.services.notifications import notify
from citizenpoints.services.permissions import require_role
from citizenpoints.services.scoring import outside_window_message, window_start_for, window_start_locked

SOURCE_CODE = "claims"
# A resident waits for at most this many claims at once: enough for a busy week, not a way to flood the reviewers.
MAX_PENDING = 5
DESCRIPTION_MIN = 10
REASON_MIN = 10  # as entry_reverse: a reason the resident can act on, not "no"


class ClaimError(ApplicationError):
    """Codes: not_joined, unknown_behaviour, not_claimable, description_required, place_required, in_future,
    outside_window, naive_datetime, quantity_required, amount_required, malformed, photo_required, too_many_pending,
    duplicate, already_decided, reason_required, award_refused (extra["award_code"] says why); the photo pipeline's
    codes (file_too_large, image_too_large, not_an_image, too_many_photos)."""


def claims_source() -> DataSource:
    return DataSource.objects.get(code=SOURCE_CODE)


def claimable_behaviours() -> QuerySet:
    """Behaviours of the published catalogue that residents may claim: evidence required, awardable by claims."""
    return (
        Behaviour.objects.filter(
            version__status=CatalogueVersion.Status.PUBLISHED, evidence_required=True, sources__code=SOURCE_CODE
        )
        .select_related("category")
        .order_by("category__position", "code")
    )


def _positive(value, *, required: bool, code: str, message: str) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise ClaimError(message, code=code)
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise ClaimError(_("The quantity or amount must be a positive number."), code="malformed") from error
    if not number.is_finite() or number <= 0 or number >= Decimal("1e10") or number.quantize(CENT) == 0:
        raise ClaimError(_("The quantity or amount must be a positive number."), code="malformed")
    return number.quantize(CENT)


def claim_file(
    *,
    resident: Resident,
    behaviour_code: str,
    description: str,
    occurred_at: datetime.datetime,
    place: str,
    quantity=None,
    amount=None,
    photos,
    now: datetime.datetime | None = None,
) -> Claim:
    """File a claim with 1 to MAX_PHOTOS (3) photos (uploaded files), for the resident themself.

    Checks the resident is in the programme; the behaviour is claimable now; what/where are given; occurred_at is
    aware, not in the future and inside the scoring window; the rule's quantity or amount is given; the resident
    has fewer than MAX_PENDING claims waiting and no claim for the same behaviour at the same time. The photos are
    re-encoded before the transaction opens (the slow part, holding no lock); the resident row is locked while the
    pending claims are counted, so two quick submissions cannot both pass the limit. Raises ClaimError (or
    EvidenceError from the photo pipeline); nothing is stored when it does.
    """
    now = now or timezone.now()
    if resident.left_at is not None or resident.user_id is None:
        raise ClaimError(_("You have left the programme, so you cannot file claims."), code="not_joined")
    behaviour = claimable_behaviours().filter(code=behaviour_code).first()
    if behaviour is None:
        raise ClaimError(_("This behaviour cannot be claimed. Choose one from the list."), code="not_claimable")
    description = (description or "").strip()
    place = (place or "").strip()
    if len(description) < DESCRIPTION_MIN:
        raise ClaimError(
            _("Say what you did, in a sentence or two (at least %(count)d characters).") % {"count": DESCRIPTION_MIN},
            code="description_required",
        )
    if len(description) > Claim._meta.get_field("description").max_length:
        raise ClaimError(_("Please keep the description under 2,000 characters."), code="malformed")
    if not place:
        raise ClaimError(_("Say where it happened."), code="place_required")
    if len(place) > Claim._meta.get_field("place").max_length:
        raise ClaimError(_("Please keep the place under 200 characters."), code="malformed")
    if occurred_at is None or timezone.is_naive(occurred_at):
        raise ClaimError(_("Give the date and time it happened."), code="naive_datetime")
    if (when := occurred_at_refusal(occurred_at, now)) is not None:
        raise ClaimError(
            _("The date and time cannot be in the future.") if when == "in_future" else outside_window_message(),
            code=when,
        )
    rule = behaviour.points_rule
    quantity = _positive(
        quantity,
        required=isinstance(rule, PerUnitRule),
        code="quantity_required",
        message=_("Say how many (for example how many hours)."),
    )
    amount = _positive(
        amount, required=isinstance(rule, AmountBandRule), code="amount_required", message=_("Give the amount.")
    )
    if not isinstance(rule, PerUnitRule):
        quantity = None
    if not isinstance(rule, AmountBandRule):
        amount = None
    photos = [photo for photo in (photos or []) if photo]
    if not photos:
        raise ClaimError(_("Add at least one photo as evidence."), code="photo_required")
    cleaned = photos_clean(photos)  # refuses too_many_photos, not_an_image, ... before anything is written

    stored: list[str] = []
    try:
        with transaction.atomic():
            current = Resident.objects.select_for_update().filter(pk=resident.pk).first()
            if current is None or current.left_at is not None:  # left while the photos were being re-encoded
                raise ClaimError(_("You have left the programme, so you cannot file claims."), code="not_joined")
            pending = Claim.objects.filter(resident=resident, status=Claim.Status.PENDING)
            if pending.count() >= MAX_PENDING:
                raise ClaimError(
                    _("You already have %(count)d claims waiting for review. Please wait for a decision first.")
                    % {"count": MAX_PENDING},
                    code="too_many_pending",
                )
            duplicate = Claim.objects.filter(
                resident=resident,
                behaviour__code=behaviour.code,
                occurred_at=occurred_at,
                status__in=[Claim.Status.PENDING, Claim.Status.APPROVED],
            )
            if duplicate.exists():
                raise ClaimError(
                    _("You have already claimed this behaviour for the same date and time."), code="duplicate"
                )
            claim = Claim.objects.create(
                resident=resident,
                behaviour=behaviour,
                description=description,
                occurred_at=occurred_at,
                place=place,
                quantity=quantity,
                amount=amount,
                filed_at=now,
            )
            stored = [photo.file_name for photo in photos_attach(claim=claim, uploads=cleaned)]
    except BaseException:
        photo_files_delete(stored)  # the rows rolled back; the files written before would be orphans
        raise
    return claim


def _refused(acting_user: User, claim: Claim, action: str, error: ApplicationError, reason: str = "") -> None:
    """Record a refused decision on its own (the decision's transaction rolled back)."""
    audit_record(
        actor=acting_user,
        action=action,
        obj=claim,
        after={
            "code": error.code,
            **({"award_code": error.extra["award_code"]} if "award_code" in error.extra else {}),
        },
        reason=reason or str(error.message),
    )


def _locked_pending(claim: Claim) -> Claim:
    locked = Claim.objects.select_for_update().filter(pk=claim.pk).first()
    if locked is None:
        raise ClaimError(_("This claim no longer exists."), code="already_decided")
    if locked.status != Claim.Status.PENDING:
        raise ClaimError(
            _("This claim was already decided (%(status)s).") % {"status": locked.get_status_display()},
            code="already_decided",
            extra={"status": locked.status},
        )
    return locked


def claim_approve(*, acting_user: User, claim: Claim, note: str = "") -> Claim:
    """Approve a pending claim: award its points through `award_grant` (source "claims", external id
    "claim:<pk>", so the ledger holds at most one award per claim whatever happens), set the decision, audit it and
    notify the resident, all in one transaction, holding the claim's row lock against a second reviewer.

    Approving an approved claim again returns it unchanged. Refuses `permission_denied` (not a reviewer),
    `already_decided` (rejected meanwhile), `award_refused` (the points core would award nothing: cap reached,
    outside the window, the behaviour no longer published...; extra["award_code"]): the reviewer may reject with
    that reason instead. Every refusal is audited.
    """
    require_role(acting_user, OfficeRole.REVIEWER)  # audits a refusal itself, outside any transaction
    note = (note or "").strip()
    try:
        with transaction.atomic():
            # The lock order of every ledger writer: the scoring window (award_grant takes it again), then the claim,
            # then the balance; leaving takes the window first too, so the two cannot deadlock.
            window_start_locked()
            current = Claim.objects.select_for_update().filter(pk=claim.pk).first()
            if current is not None and current.status == Claim.Status.APPROVED:
                return current  # a double submit, or two reviewers agreeing: the points were awarded once
            locked = _locked_pending(claim)
            try:
                result = award_grant(
                    resident=locked.resident_id,
                    behaviour_code=locked.behaviour.code,
                    source=claims_source(),
                    external_id=f"claim:{locked.pk}",
                    occurred_at=locked.occurred_at,
                    quantity=locked.quantity,
                    amount=locked.amount,
                )
            except AwardRefused as refusal:
                raise ClaimError(
                    _("This claim cannot be approved: %(why)s") % {"why": refusal.message},
                    code="award_refused",
                    extra={"award_code": refusal.code},
                ) from refusal
            now = timezone.now()
            Claim.objects.filter(pk=locked.pk).update(
                status=Claim.Status.APPROVED,
                decided_at=now,
                decided_by=acting_user,
                decision_reason=note,
                ledger_entry=result.entry,
            )
            locked.refresh_from_db()
            audit_record(
                actor=acting_user,
                action="claim.approve",
                obj=locked,
                before={"status": Claim.Status.PENDING},
                after={
                    "status": Claim.Status.APPROVED,
                    "entry_id": result.entry.pk,
                    "points": str(result.entry.points),
                    "capped": result.entry.capped,
                },
                reason=note,
            )
            notify(
                resident=locked.resident,
                kind=Notification.Kind.CLAIM_DECIDED,
                params={"claim_id": locked.pk, "status": Claim.Status.APPROVED, "points": str(result.entry.points)},
            )
    except ClaimError as error:
        _refused(acting_user, claim, "claim.approve_refused", error)
        raise
    claim.refresh_from_db()
    return locked


def claim_reject(*, acting_user: User, claim: Claim, reason: str) -> Claim:
    """Reject a pending claim with a reason the resident reads (at least REASON_MIN characters); audit and notify in
    the same transaction, holding the claim's row lock. Refuses `permission_denied`, `reason_required`,
    `already_decided`; every refusal is audited. Nothing is written to the ledger."""
    require_role(acting_user, OfficeRole.REVIEWER)
    reason = (reason or "").strip()
    try:
        if len(reason) < REASON_MIN:
            raise ClaimError(
                _("Write the reason the resident will read (at least %(count)d characters).") % {"count": REASON_MIN},
                code="reason_required",
            )
        with transaction.atomic():
            locked = _locked_pending(claim)
            Claim.objects.filter(pk=locked.pk).update(
                status=Claim.Status.REJECTED, decided_at=timezone.now(), decided_by=acting_user, decision_reason=reason
            )
            locked.refresh_from_db()
            audit_record(
                actor=acting_user,
                action="claim.reject",
                obj=locked,
                before={"status": Claim.Status.PENDING},
                after={"status": Claim.Status.REJECTED},
                reason=reason,
            )
            notify(
                resident=locked.resident,
                kind=Notification.Kind.CLAIM_DECIDED,
                params={"claim_id": locked.pk, "status": Claim.Status.REJECTED, "points": "0"},
            )
    except ClaimError as error:
        _refused(acting_user, claim, "claim.reject_refused", error, reason=reason)
        raise
    claim.refresh_from_db()
    return locked


# --- Reads for the screens.


def claims_of_resident(*, resident: Resident) -> QuerySet:
    """The resident's own claims, newest first, with what the screens show."""
    return (
        Claim.objects.filter(resident=resident)
        .select_related("behaviour", "behaviour__category", "ledger_entry")
        .prefetch_related("photos")
        .order_by("-filed_at", "-id")
    )


@dataclass(frozen=True)
class QueueFilters:
    status: str = Claim.Status.PENDING  # "" for every status
    category: str = ""  # category code
    behaviour: str = ""  # behaviour code
    filed_from: datetime.date | None = None
    filed_to: datetime.date | None = None


def claim_queue(filters: QueueFilters) -> QuerySet:
    """Claims for the reviewers' queue, oldest filed first (first come, first decided)."""
    claims = Claim.objects.select_related("behaviour", "behaviour__category", "resident").order_by("filed_at", "id")
    if filters.status:
        claims = claims.filter(status=filters.status)
    if filters.category:
        claims = claims.filter(behaviour__category__code=filters.category)
    if filters.behaviour:
        claims = claims.filter(behaviour__code=filters.behaviour)
    zone = timezone.get_current_timezone()
    if filters.filed_from:
        claims = claims.filter(filed_at__gte=datetime.datetime.combine(filters.filed_from, datetime.time.min, zone))
    if filters.filed_to:
        end = filters.filed_to + datetime.timedelta(days=1)
        claims = claims.filter(filed_at__lt=datetime.datetime.combine(end, datetime.time.min, zone))
    return claims


@dataclass(frozen=True)
class AwardEstimate:
    points: Decimal | None  # None: the points core would refuse (see `refusal`)
    capped: bool = False
    refusal: str = ""
    behaviour: Behaviour | None = None  # the published behaviour approval would award under


def claim_award_estimate(*, claim: Claim, now: datetime.datetime | None = None) -> AwardEstimate:
    """What approving would award now, read without locks (the approval itself decides): the published rule for the
    claim's behaviour applied to its quantity or amount, reduced to the caps' room for that day, month and year."""
    now = now or timezone.now()
    behaviour = published_behaviour(claim.behaviour.code)
    if behaviour is None or not behaviour.sources.filter(code=SOURCE_CODE).exists():
        return AwardEstimate(None, refusal=_("This behaviour is no longer in the published catalogue for claims."))
    if claim.occurred_at < window_start_for(now):
        return AwardEstimate(None, refusal=outside_window_message(), behaviour=behaviour)
    bounds = period_bounds(claim.occurred_at)
    used = LedgerEntry.objects.filter(
        resident_id=claim.resident_id,
        behaviour_code=behaviour.code,
        occurred_at__gte=bounds.year[0],
        occurred_at__lt=bounds.year[1],
    ).aggregate(
        day=Sum("points", filter=Q(occurred_at__gte=bounds.day[0], occurred_at__lt=bounds.day[1])),
        month=Sum("points", filter=Q(occurred_at__gte=bounds.month[0], occurred_at__lt=bounds.month[1])),
        year=Sum("points"),
        units=Sum("quantity", filter=Q(kind=LedgerEntry.Kind.AWARD, reversed_by__isnull=True)),
    )
    rule = behaviour.points_rule
    if (isinstance(rule, PerUnitRule) and claim.quantity is None) or (
        isinstance(rule, AmountBandRule) and claim.amount is None
    ):
        return AwardEstimate(None, refusal=_("The rule needs a quantity or amount the claim does not give."))
    points = rule.points_for(quantity=claim.quantity, amount=claim.amount, prior_quantity=used["units"] or Decimal(0))
    if points <= 0:
        return AwardEstimate(None, refusal=_("Below the smallest amount that earns points."), behaviour=behaviour)
    room = [
        cap - (used[period] or Decimal(0))
        for cap, period in (
            (behaviour.cap_per_day, "day"),
            (behaviour.cap_per_month, "month"),
            (behaviour.cap_per_year, "year"),
        )
        if cap is not None
    ]
    if room and min(room) <= 0:
        return AwardEstimate(
            None, refusal=_("The limit of points for this behaviour in that period is reached."), behaviour=behaviour
        )
    if room and points > min(room):
        return AwardEstimate(min(room), capped=True, behaviour=behaviour)
    return AwardEstimate(points, behaviour=behaviour)
