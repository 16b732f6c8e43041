"""Why a benefit cannot be used: one error type, stable codes, words for the resident and for the cashier."""

from typing import Any

from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError


class RedemptionError(ApplicationError):
    """A refused token, scan or confirmation.

    Codes: forged, unknown_code, expired, already_used, not_valid_here, benefit_paused, benefit_not_current,
    tier_scheme_changed, tier_too_low, quota_exhausted, limit_reached, rate_limited, not_merchant_staff, not_joined,
    bad_nonce.
    """


def _period_words(period: str) -> str:
    return {"day": _("today"), "week": _("this week"), "month": _("this month"), "year": _("this year")}.get(
        period, _("in this period")
    )


def cashier_message(code: str, extra: dict[str, Any]) -> str:
    """What the counter's screen says: short, and about what to do next."""
    period = _period_words(extra.get("period", ""))
    return {
        "forged": _("This is not a valid CityPoints code. Ask the resident to open the benefit again."),
        "unknown_code": _("No code like this is waiting. Check the characters, or ask for a fresh code."),
        "expired": _("This code has expired. Ask the resident to open the benefit again for a fresh one."),
        "already_used": _("This code has already been used."),
        "not_valid_here": _("This benefit is not offered here."),
        "benefit_paused": _("This benefit is paused at the moment."),
        "benefit_not_current": _("This benefit is not valid today."),
        "tier_scheme_changed": _("This benefit is being updated for the city's new tier scheme."),
        "tier_too_low": _("The resident's tier is now below what this benefit needs."),
        "quota_exhausted": _("This benefit has run out: its quota is used up."),
        "limit_reached": _("The resident has already used this benefit as often as allowed %(period)s.")
        % {"period": period},
        "rate_limited": _("Too many attempts from this account. Wait a few minutes and try again."),
        "not_merchant_staff": _("Only a partner's staff can scan codes."),
        "bad_nonce": _("The scanner sent a malformed request. Reload the page and scan again."),
    }.get(code, _("This code cannot be used."))


def resident_message(code: str, extra: dict[str, Any]) -> str:
    """What the resident's phone says when no code can be shown."""
    period = _period_words(extra.get("period", ""))
    return {
        "not_joined": _("Join CityPoints to use benefits."),
        "benefit_paused": _("This benefit is paused at the moment."),
        "benefit_not_current": _("This benefit is not valid today."),
        "tier_scheme_changed": _("This benefit is being updated for the city's new tier scheme."),
        "tier_too_low": _("Your tier does not unlock this benefit yet."),
        "quota_exhausted": _("This benefit has run out: its quota is used up."),
        "limit_reached": _("You have already used this benefit as often as allowed %(period)s.") % {"period": period},
        "rate_limited": _("Too many codes in a short time. Wait a minute and try again."),
    }.get(code, _("This benefit cannot be used now."))


def refuse(code: str, *, audience: str = "cashier", **extra: Any) -> RedemptionError:
    message = resident_message(code, extra) if audience == "resident" else cashier_message(code, extra)
    return RedemptionError(message, code=code, extra=extra)
