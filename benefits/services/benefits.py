"""The office's partner manager creates benefits, pauses and resumes them, and moves them to a new tier scheme."""

import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from benefits.models import Benefit, Merchant, MerchantLocation
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import OfficeRole, Tier, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.permissions import require_role


class BenefitError(ApplicationError):
    """Codes: permission_denied, inactive_scheme, wrong_merchant, title_required, reason_required, quota_below_used."""


def _snapshot(benefit: Benefit) -> dict[str, Any]:
    return {
        "family": benefit.family,
        "title_en": benefit.title_en,
        "min_tier": benefit.min_tier.code,
        "valid_from": benefit.valid_from.isoformat(),
        "valid_until": benefit.valid_until.isoformat() if benefit.valid_until else None,
        "quota": benefit.quota,
        "limit": [benefit.limit_count, benefit.limit_period],
        "is_active": benefit.is_active,
    }


@transaction.atomic
def benefit_create(
    *,
    acting_user: User,
    merchant: Merchant,
    family: str,
    title_en: str,
    title_zh: str,
    min_tier: Tier,
    valid_from: datetime.date,
    terms_en: str = "",
    terms_zh: str = "",
    valid_until: datetime.date | None = None,
    quota: int | None = None,
    limit_count: int | None = None,
    limit_period: str = Benefit.Period.MONTH,
    locations: list[MerchantLocation] | None = None,
) -> Benefit:
    """A new active benefit at `merchant` for residents of `min_tier` (a tier of the active scheme) or higher.

    `locations` restricts where it is honoured (locations of that merchant); none means all. Audited.
    """
    require_role(acting_user, OfficeRole.PARTNER_MANAGER)
    if not title_en.strip() or not title_zh.strip():
        raise BenefitError(_("Give the benefit's title in both languages."), code="title_required")
    if not min_tier.scheme.is_active:
        raise BenefitError(_("Choose a tier of the active tier scheme."), code="inactive_scheme")
    locations = list(locations or [])
    if any(location.merchant_id != merchant.pk for location in locations):
        raise BenefitError(_("A benefit is honoured only at its partner's locations."), code="wrong_merchant")
    benefit = Benefit(
        merchant=merchant,
        family=family,
        title_en=title_en.strip(),
        title_zh=title_zh.strip(),
        terms_en=terms_en,
        terms_zh=terms_zh,
        min_tier=min_tier,
        valid_from=valid_from,
        valid_until=valid_until,
        quota=quota,
        limit_count=limit_count,
        limit_period=limit_period,
    )
    benefit.full_clean()
    benefit.save()
    benefit.locations.set(locations)
    audit_record(actor=acting_user, action="benefits.benefit_create", obj=benefit, after=_snapshot(benefit))
    return benefit


def _set_active(acting_user: User, benefit: Benefit, active: bool, reason: str) -> Benefit:
    require_role(acting_user, OfficeRole.PARTNER_MANAGER)
    if not (reason or "").strip():
        raise BenefitError(_("Say why; the partner is told."), code="reason_required")
    before = Benefit.objects.select_for_update().values_list("is_active", flat=True).get(pk=benefit.pk)
    Benefit.objects.filter(pk=benefit.pk).update(is_active=active)
    benefit.is_active = active
    audit_record(
        actor=acting_user,
        action="benefits.benefit_resume" if active else "benefits.benefit_pause",
        obj=benefit,
        before={"is_active": before},
        after={"is_active": active},
        reason=reason.strip(),
    )
    return benefit


@transaction.atomic
def benefit_pause(*, acting_user: User, benefit: Benefit, reason: str) -> Benefit:
    """Stop a benefit: codes already on screens are refused at the counter with `benefit_paused`. Audited."""
    return _set_active(acting_user, benefit, False, reason)


@transaction.atomic
def benefit_resume(*, acting_user: User, benefit: Benefit, reason: str) -> Benefit:
    return _set_active(acting_user, benefit, True, reason)


@transaction.atomic
def benefit_set_min_tier(*, acting_user: User, benefit: Benefit, min_tier: Tier, reason: str) -> Benefit:
    """Move a benefit to a tier of the active scheme (after the city switches schemes, say). Audited."""
    require_role(acting_user, OfficeRole.PARTNER_MANAGER)
    if not (reason or "").strip():
        raise BenefitError(_("Say why; the partner is told."), code="reason_required")
    if not min_tier.scheme.is_active:
        raise BenefitError(_("Choose a tier of the active tier scheme."), code="inactive_scheme")
    before = _snapshot(benefit)
    Benefit.objects.filter(pk=benefit.pk).update(min_tier=min_tier)
    benefit.min_tier = min_tier
    audit_record(
        actor=acting_user,
        action="benefits.benefit_set_min_tier",
        obj=benefit,
        before=before,
        after=_snapshot(benefit),
        reason=reason.strip(),
    )
    return benefit


@transaction.atomic
def benefit_set_quota(*, acting_user: User, benefit: Benefit, quota: int | None, reason: str) -> Benefit:
    """Raise, lower or lift the total quota; never below what is already used. Audited."""
    require_role(acting_user, OfficeRole.PARTNER_MANAGER)
    locked = Benefit.objects.select_for_update().get(pk=benefit.pk)
    if quota is not None and quota < locked.used:
        raise BenefitError(
            _("The quota cannot be below the %(used)d uses already made.") % {"used": locked.used},
            code="quota_below_used",
        )
    Benefit.objects.filter(pk=benefit.pk).update(quota=quota)
    audit_record(
        actor=acting_user,
        action="benefits.benefit_set_quota",
        obj=benefit,
        before={"quota": locked.quota},
        after={"quota": quota},
        reason=(reason or "").strip(),
    )
    benefit.quota, benefit.used = quota, locked.used
    return benefit
