"""What benefits holds about a resident, declared to the points domain's rights machinery (citizenpoints.personal_data):
exported tables, the report's redemptions section, erasure on leaving and the retention purge.

Leaving: unredeemed QR tokens and the per-period usage counters are deleted. A redemption stays, for the partner's
totals and the benefit's quota, pointing at the resident row that leaving made anonymous (no account, no name, so
the partner's history shows no initial any more), and so does its token, the redemption's receipt (a random code and
times); refused scans of the resident's tokens lose the token link.
"""

from django.db.models import Q
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from benefits.models import Redemption, RedemptionDenial, RedemptionToken, ResidentBenefitUsage
from citizenpoints.personal_data import Dataset, OnLeave, ReportSection, dataset_register, report_section_register
from citizenpoints.signals import resident_left, retention_due


def register() -> None:
    dataset_register(
        Dataset(
            name="benefit_tokens",
            model=RedemptionToken,
            rows=lambda resident: RedemptionToken.objects.filter(resident=resident).order_by("issued_at"),
            columns=[
                "code",
                "benefit__title_en",
                "benefit__title_zh",
                "issued_at",
                "expires_at",
                "verified_at",
                "used_at",
            ],
            about=_("The QR codes your phone showed to use a benefit."),
            on_leave=OnLeave.ANONYMISED,
        )
    )
    dataset_register(
        Dataset(
            name="redemptions",
            model=Redemption,
            rows=lambda resident: Redemption.objects.filter(resident=resident).order_by("redeemed_at"),
            columns=[
                "benefit__title_en",
                "benefit__title_zh",
                "merchant__name_en",
                "merchant__name_zh",
                "location__name_en",
                "location__name_zh",
                "tier__code",
                "redeemed_at",
            ],
            about=_("Benefits you used: which, where and when (never who served you)."),
            on_leave=OnLeave.ANONYMISED,
        )
    )
    dataset_register(
        Dataset(
            name="benefit_usage",
            model=ResidentBenefitUsage,
            rows=lambda resident: ResidentBenefitUsage.objects.filter(resident=resident).order_by("period_start"),
            columns=["benefit__title_en", "benefit__title_zh", "period_start", "count", "allowed"],
            about=_("How often you used each benefit in each period, to apply its limit per person."),
            on_leave=OnLeave.ERASED,
        )
    )
    dataset_register(
        Dataset(
            name="refused_scans",
            model=RedemptionDenial,
            rows=lambda resident: RedemptionDenial.objects.filter(token__resident=resident).order_by("at"),
            columns=["merchant__name_en", "merchant__name_zh", "benefit__title_en", "step", "code", "at"],
            about=_("Times a partner scanned one of your codes and it was refused, with the reason."),
            on_leave=OnLeave.DETACHED,
        )
    )
    # A partner's staff account (when the same person is also a resident) names them too.
    from benefits.models import MerchantStaff

    dataset_register(
        Dataset(
            name="partner_staff",
            model=MerchantStaff,
            rows=lambda resident: (
                MerchantStaff.objects.filter(user_id=resident.user_id)
                if resident.user_id
                else MerchantStaff.objects.none()
            ),
            columns=["merchant__name_en", "merchant__name_zh", "role", "location__name_en", "is_active"],
            about=_("Partner staff accounts of yours, if you work at a partner's counter."),
            on_leave=OnLeave.ERASED,
        )
    )
    report_section_register(
        ReportSection(
            key="redemptions",
            order=40,
            template="benefits/report_redemptions.html",
            context=lambda resident: {
                "redemptions": list(
                    Redemption.objects.filter(resident=resident)
                    .select_related("benefit", "merchant", "location")
                    .order_by("-redeemed_at", "-id")
                )
            },
        )
    )


@receiver(resident_left, dispatch_uid="benefits.resident_left")
def erase_on_leaving(sender, *, resident, user, **kwargs) -> None:
    RedemptionToken.objects.filter(resident=resident, redemption__isnull=True).delete()  # denials lose the link
    RedemptionDenial.objects.filter(token__resident=resident).update(token=None)
    ResidentBenefitUsage.objects.filter(resident=resident).delete()


@receiver(retention_due, dispatch_uid="benefits.retention_due")
def purge_old(sender, *, cutoff, **kwargs) -> dict[str, int]:
    """Redemptions, their tokens, refused scans and usage counters older than the retention period."""
    old_redemptions = Redemption.objects.filter(redeemed_at__lt=cutoff)
    old_token_ids = list(old_redemptions.values_list("token_id", flat=True))
    redemptions = old_redemptions.delete()[0]
    tokens = RedemptionToken.objects.filter(
        Q(pk__in=old_token_ids) | Q(issued_at__lt=cutoff, redemption__isnull=True)
    ).delete()[0]
    denials = RedemptionDenial.objects.filter(at__lt=cutoff).delete()[0]
    usage = ResidentBenefitUsage.objects.filter(period_start__lt=cutoff.date()).delete()[0]
    return {"redemptions": redemptions, "benefit_tokens": tokens, "refused_scans": denials, "benefit_usage": usage}
