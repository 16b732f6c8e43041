"""The moment at the counter: scan (verify), then confirm. Exactly once per token.

`redemption_confirm` is one durable transaction of a few statements:

1. SELECT the token FOR UPDATE (only the token row is locked), joined with what the checks read: the benefit, its
   partner and minimum tier, the resident's balance and tier now, and any earlier answer to this scanner's nonce;
2. checks (merchant, used, expiry, paused, dates, tier now);
3. UPDATE the token's used_at;
4. the resident's counter for the period, upserted with `count + 1` only while below the limit (if limited);
5. INSERT the redemption;
6. UPDATE the benefit's `used + 1` only while below the quota (if it has one); COMMIT.

Locks are taken in that fixed order (token, resident's period counter, benefit) and the hot one, the benefit's quota
row that every counter shares, last, so it is held only for the commit. Steps 4 and 6 are conditional writes (the
database re-checks the condition on the latest row version after any wait), and CheckConstraints back both. The
resident's counter row is per benefit and resident, so residents never wait on one another except at the quota row.

Refusals raise RedemptionError with a stable code and are recorded as RedemptionDenial rows (in their own
transaction, after the refused one rolled back). A repeat of a confirmation with the same nonce from the same staff
account returns the first answer: the redemption, or the same refusal.
"""

import datetime
import re
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from benefits import conf
from benefits.exceptions import RedemptionError, refuse
from benefits.models import (
    Benefit,
    MerchantStaff,
    Redemption,
    RedemptionDenial,
    RedemptionToken,
    ResidentBenefitUsage,
)
from benefits.selectors import local_today, period_start, static_refusal
from benefits.services.ratelimits import rate_hit, rate_spent
from benefits.services.tokens import ParsedCode, token_parse
from citizenpoints.models import Tier, User

NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
GUESS_CODES = {"forged", "unknown_code"}


@dataclass(frozen=True)
class ScanResult:
    """All the cashier sees before confirming: the benefit, the tier, the resident's initial."""

    code: str  # what to send back with the confirmation (the scanned payload or the typed code)
    benefit: Benefit
    tier: Tier
    initial: str
    expires_at: datetime.datetime


def staff_for(user: User) -> MerchantStaff:
    """The active staff record of `user`, with its location; cached on the user object. Raises not_merchant_staff."""
    staff = getattr(user, "_benefits_staff", None)
    if staff is None and user.is_authenticated:
        staff = MerchantStaff.objects.select_related("location").filter(user=user).first()
        user._benefits_staff = staff
    if staff is None or not staff.is_active or not user.is_active:
        raise refuse("not_merchant_staff")
    return staff


def _throttle(staff: MerchantStaff) -> None:
    if rate_spent(scope="scan-fail", key=staff.pk, limit=conf.failed_scan_rate()):
        raise refuse("rate_limited")
    if not rate_hit(scope="scan", key=staff.pk, limit=conf.scan_rate()):
        raise refuse("rate_limited")


def _token_query(parsed: ParsedCode, staff: MerchantStaff):
    """The token with everything the checks read, in one statement (the location check as two EXISTS)."""
    tokens = RedemptionToken.objects.select_related(
        "benefit__merchant", "benefit__min_tier", "resident__balance__tier"
    ).filter(code=parsed.code)
    if staff.location_id is not None:
        honours = Benefit.locations.through.objects.filter(benefit_id=OuterRef("benefit_id"))
        tokens = tokens.annotate(
            names_locations=Exists(honours),
            honoured_here=Exists(honours.filter(merchantlocation_id=staff.location_id)),
        )
    return tokens


def _lock_token(tokens):
    """The guard of "exactly once": the token row's lock, held to commit. Waiters then read its updated used_at."""
    return tokens.select_for_update(of=("self",))


def _check(token: RedemptionToken, staff: MerchantStaff, now: datetime.datetime, *, confirming: bool) -> None:
    """Every refusal that the loaded rows can decide, in the order a cashier needs them."""
    benefit = token.benefit
    if benefit.merchant_id != staff.merchant_id:
        raise refuse("not_valid_here")
    if staff.location_id is not None and token.names_locations and not token.honoured_here:
        raise refuse("not_valid_here")
    if token.used_at is not None:
        raise refuse("already_used")
    live = now <= token.expires_at
    held = (
        confirming
        and token.verified_at is not None
        and token.verified_at <= token.expires_at
        and now <= token.verified_at + conf.confirm_grace()
    )
    if not (live or held):
        raise refuse("expired")
    balance = getattr(token.resident, "balance", None)
    refusal = static_refusal(benefit=benefit, resident_tier=balance.tier if balance else None, today=local_today(now))
    if refusal:
        code, extra = refusal
        raise refuse(code, **extra)


def _deny(staff: MerchantStaff, error: RedemptionError, *, step: str, token=None, nonce: str = "") -> None:
    """Record a refusal (its own transaction: the refused one has rolled back). Guessing counts against the staff."""
    if error.code in GUESS_CODES:
        rate_hit(scope="scan-fail", key=staff.pk, limit=conf.failed_scan_rate())
    if error.code in ("rate_limited", "not_merchant_staff", "bad_nonce"):
        return
    try:
        with transaction.atomic():
            RedemptionDenial.objects.create(
                staff=staff,
                merchant_id=staff.merchant_id,
                token=token,
                benefit_id=token.benefit_id if token else None,
                step=step,
                code=error.code,
                nonce=nonce,
            )
    except IntegrityError:
        pass  # the same nonce was refused a moment ago by a concurrent repeat: one record is enough


def redemption_verify(*, acting_user: User, text: str, now: datetime.datetime | None = None) -> ScanResult:
    """Read a scanned QR or typed code and say what it is for, or why it cannot be used here and now.

    Writes only `verified_at` (first scan while live), which lets a confirmation follow within the grace period even
    if the code expires meanwhile. Rate-limited per staff account: scans, and more tightly unknown or forged codes.
    Raises RedemptionError; refusals are recorded.
    """
    now = now or timezone.now()
    staff = staff_for(acting_user)
    _throttle(staff)
    token = None
    try:
        parsed = token_parse(text)
        token = _token_query(parsed, staff).first()
        if token is None:
            raise refuse("unknown_code")
        _check(token, staff, now, confirming=False)
    except RedemptionError as error:
        _deny(staff, error, step="verify", token=token)
        raise
    if token.verified_at is None:
        RedemptionToken.objects.filter(pk=token.pk, verified_at__isnull=True).update(verified_at=now)
    return ScanResult(
        code=text.strip(),
        benefit=token.benefit,
        tier=token.resident.balance.tier,
        initial=token.resident.initial,
        expires_at=token.expires_at,
    )


def _take_usage(token: RedemptionToken, today: datetime.date) -> bool:
    """Count one use in the resident's period unless that reaches past the limit. One statement; locks that row."""
    benefit = token.benefit
    table = ResidentBenefitUsage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} AS u (benefit_id, resident_id, period_start, count, allowed)
                VALUES (%s, %s, %s, 1, %s)
                ON CONFLICT (benefit_id, resident_id, period_start)
                DO UPDATE SET count = u.count + 1, allowed = EXCLUDED.allowed WHERE u.count < EXCLUDED.allowed
                RETURNING count""",
            [benefit.pk, token.resident_id, period_start(benefit.limit_period, today), benefit.limit_count],
        )
        return cursor.fetchone() is not None


def _take_quota(benefit: Benefit) -> bool:
    """Take one unit of the quota unless none is left. One conditional UPDATE; locks the benefit row to commit."""
    return bool(Benefit.objects.filter(pk=benefit.pk, used__lt=benefit.quota).update(used=F("used") + 1))


def _prior_answer(staff: MerchantStaff, nonce: str) -> Redemption | RedemptionError | None:
    redemption = Redemption.objects.filter(staff=staff, nonce=nonce).select_related("benefit", "tier").first()
    if redemption is not None:
        return redemption
    code = RedemptionDenial.objects.filter(staff=staff, nonce=nonce).values_list("code", flat=True).first()
    return refuse(code) if code else None


def redemption_confirm(*, acting_user: User, text: str, nonce: str, now: datetime.datetime | None = None) -> Redemption:
    """Redeem the token read from `text`, exactly once. See the module docstring for the transaction.

    Idempotent per (staff account, nonce): a repeat returns the first answer (the same Redemption, or the same
    refusal raised again) and changes nothing. Raises RedemptionError; refusals are recorded.
    """
    now = now or timezone.now()
    staff = staff_for(acting_user)
    if not NONCE.match(nonce or ""):
        raise refuse("bad_nonce")
    token = None
    try:
        parsed = token_parse(text)
        with transaction.atomic(durable=True):
            token = (
                _lock_token(_token_query(parsed, staff))
                .annotate(
                    prior_redemption=Subquery(Redemption.objects.filter(staff=staff, nonce=nonce).values("pk")[:1]),
                    prior_denial=Subquery(RedemptionDenial.objects.filter(staff=staff, nonce=nonce).values("code")[:1]),
                )
                .first()
            )
            if token is not None and (token.prior_redemption or token.prior_denial):
                raise _Replay
            if token is None:
                raise refuse("unknown_code")
            _check(token, staff, now, confirming=True)
            RedemptionToken.objects.filter(pk=token.pk).update(used_at=now)
            if token.benefit.limit_count is not None and not _take_usage(token, local_today(now)):
                raise refuse("limit_reached", period=token.benefit.limit_period)
            redemption = Redemption.objects.create(
                token=token,
                resident=token.resident,
                benefit=token.benefit,
                merchant_id=staff.merchant_id,
                location=staff.location,
                staff=staff,
                tier=token.resident.balance.tier,
                nonce=nonce,
                redeemed_at=now,
            )
            # Last: the benefit's row is the one every counter shares, so its lock is held only for the commit.
            if token.benefit.quota is not None and not _take_quota(token.benefit):
                raise refuse("quota_exhausted")
            return redemption
    except _Replay:
        answer = _prior_answer(staff, nonce)
        if isinstance(answer, Redemption):
            return answer
        raise answer from None
    except RedemptionError as error:
        answer = _prior_answer(staff, nonce) if error.code == "already_used" else None
        if isinstance(answer, Redemption):  # our own earlier success, repeated
            return answer
        _deny(staff, error, step="confirm", token=token, nonce=nonce)
        raise


class _Replay(Exception):
    """This nonce was answered before; leave the transaction and answer the same."""
