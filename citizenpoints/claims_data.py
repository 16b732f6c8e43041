"""Claims' answers to the residents' rights machinery (citizenpoints.personal_data) and to the demo loader.

Leaving: each claim stays for the office's statistics (behaviour, status, dates), pointing at the anonymous resident
row, but its free text (what, where, the reviewer's note) is erased and its photos are deleted, rows and files. The
points an approved claim awarded stay in the ledger, as every entry does. The retention purge deletes claims filed
before its cutoff, with their photos.
"""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from citizenpoints.models import Claim, EvidencePhoto
from citizenpoints.personal_data import Dataset, OnLeave, ReportSection, dataset_register, report_section_register
from citizenpoints.services.evidence import photos_delete
from citizenpoints.signals import demo_loaded, resident_left, retention_due

ERASED = "—"  # a rejected claim must keep a non-empty reason (a database constraint); this one says nothing


def register() -> None:
    """Called once from CitizenPointsConfig.ready."""
    dataset_register(
        Dataset(
            name="claims",
            model=Claim,
            rows=lambda resident: Claim.objects.filter(resident=resident).order_by("filed_at", "id"),
            columns=[
                "id",
                "behaviour__code",
                "behaviour__name_en",
                "behaviour__name_zh",
                "description",
                "occurred_at",
                "place",
                "quantity",
                "amount",
                "status",
                "filed_at",
                "decided_at",
                "decision_reason",
                "ledger_entry__points",
            ],
            about=_("Claims you filed for points, with the decision and its reason (never who decided)."),
            on_leave=OnLeave.ANONYMISED,
        )
    )
    dataset_register(
        Dataset(
            name="claim_photos",
            model=EvidencePhoto,
            rows=lambda resident: EvidencePhoto.objects.filter(claim__resident=resident).order_by("uploaded_at", "id"),
            columns=["claim", "width", "height", "size", "uploaded_at"],
            about=_(
                "The photos you sent with your claims: their size and date. The pictures themselves are kept without "
                "any camera data (no location, no device), and you can see them on each claim's page."
            ),
            on_leave=OnLeave.ERASED,
        )
    )
    report_section_register(
        ReportSection(
            key="claims",
            order=30,
            template="citizenpoints/claims/report_section.html",
            context=lambda resident: {
                "claims": list(
                    Claim.objects.filter(resident=resident)
                    .select_related("behaviour", "ledger_entry")
                    .order_by("-filed_at", "-id")
                )
            },
        )
    )
    resident_left.connect(erase_on_leaving, dispatch_uid="citizenpoints.claims.resident_left")
    retention_due.connect(purge_old, dispatch_uid="citizenpoints.claims.retention_due")
    demo_loaded.connect(load_demo, dispatch_uid="citizenpoints.claims.load_demo")


def erase_on_leaving(sender, *, resident, user, **kwargs) -> None:
    claims = Claim.objects.filter(resident=resident)
    photos_delete(EvidencePhoto.objects.filter(claim__in=claims))
    claims.filter(status=Claim.Status.REJECTED).update(description="", place="", decision_reason=ERASED)
    claims.filter(~Q(status=Claim.Status.REJECTED)).update(description="", place="", decision_reason="")


def purge_old(sender, *, cutoff, **kwargs) -> dict[str, int]:
    """Claims filed before the cutoff, with their photos (files deleted once the purge commits)."""
    old = Claim.objects.filter(filed_at__lt=cutoff)
    photos = photos_delete(EvidencePhoto.objects.filter(claim__in=old))
    claims = old.delete()[1].get(Claim._meta.label, 0)
    return {"claims": claims, "claim_photos": photos}


def load_demo(sender, **kwargs) -> None:
    from citizenpoints.claims_demo import claims_demo_load

    claims_demo_load()
