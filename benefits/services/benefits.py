"""The office's partner manager creates benefits, pauses and resumes them, and moves them to a new tier scheme."""

import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from benefits.models import Benefit, Merchant, MerchantLocation
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import OfficeRole, Tier, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.permissions import role_required


class BenefitError(ApplicationError):
    """Codes: permission_denied, inactive_scheme, wrong_merchant, title_required, reason_required, quota_below_used,
    dates_reversed."""


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


@role_required(OfficeRole.PARTNER_MANAGER)
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
    is_active: bool = True,
) -> Benefit:
    """A new benefit at `merchant` for residents of `min_tier` (a tier of the active scheme) or higher.

    `locations` restricts where it is honoured (locations of that merchant); none means all. `is_active=False` saves
    it paused, to be resumed when the partner is ready. Audited.
    """
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
        is_active=is_active,
    )
    benefit.full_clean()
    benefit.save()
    benefit.locations.set(locations)
    audit_record(actor=acting_user, action="benefits.benefit_create", obj=benefit, after=_snapshot(benefit))
    return benefit


def _set_active(acting_user: User, benefit: Benefit, active: bool, reason: str) -> Benefit:
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


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def benefit_pause(*, acting_user: User, benefit: Benefit, reason: str) -> Benefit:
    """Stop a benefit: codes already on screens are refused at the counter with `benefit_paused`. Audited."""
    return _set_active(acting_user, benefit, False, reason)


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def benefit_resume(*, acting_user: User, benefit: Benefit, reason: str) -> Benefit:
    return _set_active(acting_user, benefit, True, reason)


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def benefit_set_min_tier(*, acting_user: User, benefit: Benefit, min_tier: Tier, reason: str) -> Benefit:
    """Move a benefit to a tier of the active scheme (after the city switches schemes, say). Audited."""
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


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def benefit_set_quota(*, acting_user: User, benefit: Benefit, quota: int | None, reason: str) -> Benefit:
    """Raise, lower or lift the total quota; never below what is already used. Audited."""
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


BENEFIT_DETAILS = (
    "family",
    "title_en",
    "title_zh",
    "terms_en",
    "terms_zh",
    "valid_from",
    "valid_until",
    "limit_count",
    "limit_period",
)


def _details(benefit: Benefit) -> dict[str, Any]:
    values = {name: getattr(benefit, name) for name in BENEFIT_DETAILS}
    for name in ("valid_from", "valid_until"):
        values[name] = values[name].isoformat() if values[name] else None
    values["locations"] = sorted(benefit.locations.values_list("pk", flat=True))
    return values


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def benefit_update(
    *, acting_user: User, benefit: Benefit, locations: list[MerchantLocation] | None = None, **details: Any
) -> Benefit:
    """Change what a benefit is and when and where it holds (`details`: any of BENEFIT_DETAILS; `locations`, when
    given, replaces the list, empty meaning all the partner's locations). Its minimum tier, quota and active flag
    change through their own services, which ask why. Locks the row; audited with before and after."""
    unknown = set(details) - set(BENEFIT_DETAILS)
    if unknown:
        raise TypeError(f"unknown benefit fields: {sorted(unknown)}")
    details = {name: value.strip() if isinstance(value, str) else value for name, value in details.items()}
    if any(name in details and not details[name] for name in ("title_en", "title_zh")):
        raise BenefitError(_("Give the benefit's title in both languages."), code="title_required")
    locked = Benefit.objects.select_for_update().select_related("min_tier").get(pk=benefit.pk)
    if locations is not None and any(location.merchant_id != locked.merchant_id for location in locations):
        raise BenefitError(_("A benefit is honoured only at its partner's locations."), code="wrong_merchant")
    before = _details(locked)
    for name, value in details.items():
        setattr(locked, name, value)
    if locked.valid_until is not None and locked.valid_until < locked.valid_from:
        raise BenefitError(_("The end date must not be before the start date."), code="dates_reversed")
    locked.full_clean(exclude=["min_tier", "quota", "used", "is_active"])
    locked.save(update_fields=list(details))
    if locations is not None:
        locked.locations.set(locations)
    audit_record(actor=acting_user, action="benefits.benefit_update", obj=locked, before=before, after=_details(locked))
    return locked
