"""Appeals' part in residents' rights and in the demo, connected from CitizenPointsConfig.ready.

- Export: every appeal the resident filed (statement, what it was about, dates, the decision and its reasons; never
  the reviewer's identity) and the office calendar is not personal data.
- Leaving: statements are erased and evidence photos deleted (rows and files). The appeal rows stay, pointing at the
  anonymous resident row, for the office's anonymous statistics (received, decided, overdue, time to decision). An
  appeal still open is closed: nobody is left to hear the answer, and a grant could not award a resident who left.
- Retention: appeals filed before the cutoff are deleted with their photos; a later appeal whose record the ledger
  purge deleted keeps its decision and loses the link (the database would refuse the dangling reference).
- Demo: the office calendar gets mainland China's public holidays (services.calendar.CHINA_HOLIDAYS), then a few
  appeals in every state (citizenpoints.appeals_demo).
"""

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citizenpoints.models import Appeal, EvidencePhoto, LedgerEntry
from citizenpoints.personal_data import Dataset, OnLeave, ReportSection, dataset_register, report_section_register
from citizenpoints.signals import demo_loaded, resident_left, retention_due

CLOSED_ON_LEAVING = "The resident left the programme before a decision; the appeal was closed."


def _appeals_of(resident):
    return Appeal.objects.filter(resident=resident).order_by("filed_at", "id")


def appeals_register() -> None:
    dataset_register(
        Dataset(
            name="appeals",
            model=Appeal,
            rows=_appeals_of,
            columns=[
                "id",
                "subject",
                "entry",
                "claim",
                "behaviour__code",
                "behaviour__name_en",
                "behaviour__name_zh",
                "occurred_at",
                "quantity",
                "amount",
                "statement",
                "status",
                "filed_at",
                "due_on",
                "review_started_at",
                "decided_at",
                "decision_reason",
                "correction",
            ],
            about=_(
                "Your appeals: what each was about, your statement, its deadline, and the decision with its reasons "
                "and the correction it made to your points."
            ),
            on_leave=OnLeave.ANONYMISED,
        )
    )
    dataset_register(
        Dataset(
            name="appeal_photos",
            model=EvidencePhoto,
            rows=lambda resident: EvidencePhoto.objects.filter(appeal__resident=resident).order_by("uploaded_at", "id"),
            columns=["appeal", "width", "height", "size", "uploaded_at"],
            about=_(
                "The photos you sent with your appeals: their size and date. The pictures themselves are kept without "
                "any camera data (no location, no device), and you can see them on each appeal's page."
            ),
            on_leave=OnLeave.ERASED,
        )
    )
    report_section_register(
        ReportSection(
            key="appeals",
            order=35,
            template="citizenpoints/appeals/report_section.html",
            context=lambda resident: {
                "appeals": list(
                    Appeal.objects.filter(resident=resident)
                    .select_related("behaviour", "correction")
                    .order_by("-filed_at", "-id")
                )
            },
        )
    )


def erase_on_leaving(sender, *, resident, user, **kwargs) -> None:
    _photos_delete(EvidencePhoto.objects.filter(appeal__resident=resident))
    now = timezone.now()
    Appeal.objects.filter(resident=resident, status__in=Appeal.OPEN).update(
        status=Appeal.Status.REFUSED, decided_at=now, decision_reason=CLOSED_ON_LEAVING
    )
    Appeal.objects.filter(resident=resident).update(statement="")


def purge_old(sender, *, cutoff, **kwargs) -> dict[str, int]:
    old = Appeal.objects.filter(filed_at__lt=cutoff)
    photos = _photos_delete(EvidencePhoto.objects.filter(appeal__in=old))
    appeals = old.delete()[0]  # the photos went first, with their files
    # The ledger purge deleted entries with raw SQL (no ORM SET_NULL): unlink the appeals that named them.
    gone = ~Q(entry__in=LedgerEntry.objects.values("pk"))
    decided = [Appeal.Status.GRANTED, Appeal.Status.REFUSED]
    unlinked = Appeal.objects.filter(gone, entry__isnull=False, status__in=decided).update(entry=None)
    Appeal.objects.filter(correction__isnull=False).exclude(correction__in=LedgerEntry.objects.values("pk")).update(
        correction=None
    )
    return {"appeals": appeals, "appeal_photos": photos, "appeals_unlinked": unlinked}


def _photos_delete(photos) -> int:
    from citizenpoints.services.evidence import photos_delete

    return photos_delete(photos)


def load_demo(sender, **kwargs) -> None:
    from citizenpoints.appeals_demo import appeals_demo_load
    from citizenpoints.management.commands.load_demo import DEMO_DOMAIN
    from citizenpoints.services.calendar import china_holidays_load

    china_holidays_load()
    appeals_demo_load(domain=DEMO_DOMAIN)


def appeals_connect() -> None:
    appeals_register()
    resident_left.connect(erase_on_leaving, dispatch_uid="citizenpoints.appeals.resident_left")
    retention_due.connect(purge_old, dispatch_uid="citizenpoints.appeals.retention_due")
    demo_loaded.connect(load_demo, dispatch_uid="citizenpoints.appeals.load_demo")
