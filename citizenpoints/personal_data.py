"""Where each app declares the personal data it holds, so residents' rights cover every table without the points
domain importing the apps that build on it (benefits, and later claims, appeals and notifications).

Three plug-in points, all registered at start-up (an app's `AppConfig.ready`):

- `dataset_register(Dataset(...))`: a table that names a resident. The export writes one CSV per dataset and a key in
  data.json, the README explains its fields (from the models' verbose names), the retention purge deletes audit rows
  about its objects, and `on_leave` states (and a test checks) what leaving does with its rows.
- `report_section_register(ReportSection(...))`: a block of the personal report (page and PDF).
- the `resident_left` and `retention_due` signals (citizenpoints.signals): the app erases or purges its own rows
  inside the calling service's transaction.

A new model that holds resident data and is registered nowhere fails tests/points/test_personal_data_export.py.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import models
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class OnLeave(models.TextChoices):
    ERASED = "erased", _("Erased when you leave.")
    DETACHED = (
        "detached",
        _("Kept for the department or partner that needs it, with everything linking it to you removed."),
    )
    ANONYMISED = "anonymised", _("Kept when you leave, without your name or account: only anonymous statistics remain.")


@dataclass(frozen=True)
class Dataset:
    """One table's rows about a resident.

    `rows(resident)` must cope with a resident who has left (no account). `columns` are `values()` paths; never
    list staff identities (residents see "the credit office", never a person) or secrets (MFA keys, API keys).
    """

    name: str  # file stem in the export: `<name>.csv` and data.json["tables"][name]
    model: type[models.Model]
    rows: Callable[..., QuerySet]
    columns: Sequence[str]
    about: Promise
    on_leave: OnLeave
    # Models that, besides `model`, this dataset covers for the model walk (their rows are exported through it).
    also_covers: Sequence[type[models.Model]] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReportSection:
    """A block of the personal report: `template` rendered with `context(resident)` (lists fetched in full)."""

    key: str
    order: int
    template: str
    context: Callable[..., dict]


_datasets: dict[str, Dataset] = {}
_sections: dict[str, ReportSection] = {}


def dataset_register(dataset: Dataset) -> None:
    if dataset.name in _datasets and _datasets[dataset.name] != dataset:
        raise ValueError(f"a dataset named {dataset.name!r} is already registered")
    _datasets[dataset.name] = dataset


def datasets() -> list[Dataset]:
    return list(_datasets.values())


def report_section_register(section: ReportSection) -> None:
    _sections[section.key] = section


def report_sections() -> list[ReportSection]:
    return sorted(_sections.values(), key=lambda section: (section.order, section.key))


def column_label(model: type[models.Model], path: str) -> str:
    """ "behaviour__name_en" → "behaviour › name (English)", from the models' translated verbose names."""
    labels, current = [], model
    for part in path.split("__"):
        if part in {"pk", "id"} and current is not None:
            labels.append("id")
            break
        model_field = current._meta.get_field(part)
        labels.append(str(getattr(model_field, "verbose_name", part)))
        current = model_field.related_model if model_field.is_relation else None
    return " › ".join(labels)


def column_help(model: type[models.Model], path: str) -> str:
    current, help_text = model, ""
    for part in path.split("__"):
        if part in {"pk", "id"}:
            return ""
        model_field = current._meta.get_field(part)
        help_text = str(getattr(model_field, "help_text", "") or "")
        current = model_field.related_model if model_field.is_relation else None
    return help_text


def _audit_rows(resident) -> QuerySet:
    """Audit rows about any object exported for this resident (their resident row, card links, entries...), and any
    row they acted in themselves. Staff identities are not exported: see the dataset's columns."""
    from django.db.models import CharField, Q
    from django.db.models.functions import Cast

    from citizenpoints.models import AuditEvent

    about = Q(pk__in=[])
    for dataset in datasets():
        if dataset.model is AuditEvent:
            continue
        keys = dataset.rows(resident).annotate(audit_key=Cast("pk", CharField())).values("audit_key")
        about |= Q(object_type=dataset.model._meta.label_lower, object_id__in=keys)
    if resident.user_id is not None:
        about |= Q(actor_id=resident.user_id)
    return AuditEvent.objects.filter(about)


def register_points_datasets() -> None:
    """The points domain's own tables, and the account tables (Django auth, allauth) that name a resident."""
    from allauth.account.models import EmailAddress, EmailConfirmation
    from allauth.mfa.models import Authenticator

    from citizenpoints.models import (
        AuditEvent,
        Balance,
        CardLink,
        ConsentRecord,
        ExportRequest,
        IngestRecord,
        LedgerEntry,
        Resident,
        ResidentBadge,
        TierChange,
        User,
    )

    def of_user(model):
        return lambda resident: (
            model.objects.filter(user_id=resident.user_id) if resident.user_id else model.objects.none()
        )

    for dataset in [
        Dataset(
            name="account",
            model=User,
            rows=lambda resident: User.objects.filter(pk=resident.user_id) if resident.user_id else User.objects.none(),
            columns=["email", "first_name", "last_name", "date_joined", "last_login", "is_active"],
            about=_("Your sign-in account. The password is stored only as a one-way hash and is not included."),
            on_leave=OnLeave.ERASED,
        ),
        Dataset(
            name="email_addresses",
            model=EmailAddress,
            rows=of_user(EmailAddress),
            columns=["email", "verified", "primary"],
            about=_("The email addresses on your account and whether you confirmed them."),
            on_leave=OnLeave.ERASED,
            # Confirmation keys are short-lived and belong to an address: they go with it.
            also_covers=[EmailConfirmation],
        ),
        Dataset(
            name="two_factor_authenticators",
            model=Authenticator,
            rows=of_user(Authenticator),
            columns=["type", "created_at", "last_used_at"],
            about=_("Two-factor authentication you set up (the secret keys themselves are not included)."),
            on_leave=OnLeave.ERASED,
        ),
        Dataset(
            name="resident",
            model=Resident,
            rows=lambda resident: Resident.objects.filter(pk=resident.pk),
            columns=["id", "given_name", "language", "joined_at", "terms_version", "left_at"],
            about=_("Your membership of the programme."),
            on_leave=OnLeave.ANONYMISED,
        ),
        Dataset(
            name="consents",
            model=ConsentRecord,
            rows=lambda resident: ConsentRecord.objects.filter(resident=resident).order_by("accepted_at"),
            columns=["terms_version", "accepted_at"],
            about=_("Each version of the terms you accepted, and when."),
            on_leave=OnLeave.ERASED,
        ),
        Dataset(
            name="card_links",
            model=CardLink,
            rows=lambda resident: CardLink.objects.filter(resident=resident).order_by("linked_at"),
            columns=["card_hash", "linked_at", "linked_by_office"],
            about=_("Citizen cards linked to you, each kept only as a keyed code, never the card number."),
            on_leave=OnLeave.ERASED,
        ),
        Dataset(
            name="balance",
            model=Balance,
            rows=lambda resident: Balance.objects.filter(resident=resident),
            columns=[
                "points",
                "lifetime_points",
                "tier__code",
                "tier__name_en",
                "tier__name_zh",
                "last_seq",
                "last_hash",
                "chain_floor_seq",
                "chain_floor_hash",
                "updated_at",
            ],
            about=_("Your points in the scoring window, your tier, and the head of your tamper-evident chain."),
            on_leave=OnLeave.ANONYMISED,
        ),
        Dataset(
            name="ledger_entries",
            model=LedgerEntry,
            rows=lambda resident: LedgerEntry.objects.filter(resident=resident).order_by("seq"),
            columns=[
                "id",
                "seq",
                "kind",
                "behaviour_code",
                "behaviour__name_en",
                "behaviour__name_zh",
                "category__code",
                "category__name_en",
                "category__name_zh",
                "catalogue_version__number",
                "source__code",
                "source__name_en",
                "source__name_zh",
                "external_id",
                "occurred_at",
                "recorded_at",
                "quantity",
                "amount",
                "points",
                "capped",
                "reverses",
                "reason",
                "prev_hash",
                "hash",
            ],
            about=_(
                "Every award and correction of your points, with its source and reason. Each entry's hash covers its "
                "content and the previous entry's hash, so any change would show."
            ),
            on_leave=OnLeave.ANONYMISED,
        ),
        Dataset(
            name="tier_changes",
            model=TierChange,
            rows=lambda resident: TierChange.objects.filter(resident=resident).order_by("changed_at", "id"),
            columns=["from_tier__code", "to_tier__code", "to_tier__name_en", "to_tier__name_zh", "cause", "changed_at"],
            about=_("Each time your tier changed, and why."),
            on_leave=OnLeave.ANONYMISED,
        ),
        Dataset(
            name="badges",
            model=ResidentBadge,
            rows=lambda resident: ResidentBadge.objects.filter(resident=resident).order_by("awarded_at"),
            columns=["badge__code", "badge__name_en", "badge__name_zh", "awarded_at"],
            about=_("Badges you earned, with the date."),
            on_leave=OnLeave.ANONYMISED,
        ),
        Dataset(
            name="department_records",
            model=IngestRecord,
            rows=lambda resident: IngestRecord.objects.filter(resident_id=resident.pk).order_by("batch__received_at"),
            columns=[
                "batch__source__code",
                "batch__received_at",
                "external_id",
                "behaviour_code",
                "occurred_at",
                "quantity",
                "amount",
                "result",
                "detail",
                "points",
            ],
            about=_("Records city departments sent about you, and what became of each (awarded, refused and why)."),
            on_leave=OnLeave.DETACHED,
        ),
        Dataset(
            name="data_exports",
            model=ExportRequest,
            rows=lambda resident: ExportRequest.objects.filter(resident=resident).order_by("requested_at"),
            columns=["status", "requested_at", "ready_at", "expires_at", "size"],
            about=_("Your requests for a copy of your data, like this one."),
            on_leave=OnLeave.ERASED,
        ),
        Dataset(
            name="audit_events",
            model=AuditEvent,
            rows=_audit_rows,
            columns=["action", "object_type", "object_id", "before", "after", "reason", "at"],
            about=_(
                "The audit trail about you: staff actions on your records and each time staff opened your file "
                "(with their roles, never their names)."
            ),
            on_leave=OnLeave.ANONYMISED,
        ),
    ]:
        dataset_register(dataset)
