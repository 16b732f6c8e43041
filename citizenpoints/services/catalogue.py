"""Drafting and publishing catalogue versions. Publishing never changes points already earned: entries keep
the version (and behaviour row) they were awarded under."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import Behaviour, CatalogueVersion, Category, DataSource, OfficeRole, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.permissions import role_required


def _as_application_error(error: ValidationError) -> ApplicationError:
    messages = [str(message) for message in error.messages]
    # A field-keyed error (e.g. {"rule": …}) has no error_list: read its per-field errors instead.
    groups = error.error_dict.values() if hasattr(error, "error_dict") else [error.error_list]
    code = next((e.code for errors in groups for e in errors if getattr(e, "code", None)), "invalid")
    return ApplicationError(" ".join(messages), code=code, extra={"errors": messages})


@role_required(OfficeRole.CATALOGUE_EDITOR)
@transaction.atomic
def catalogue_draft_start(*, acting_user: User) -> CatalogueVersion:
    """A new draft holding a copy of the published version's behaviours. One draft at a time."""
    list(CatalogueVersion.objects.select_for_update().all())  # serialise version numbering
    if CatalogueVersion.objects.filter(status=CatalogueVersion.Status.DRAFT).exists():
        raise ApplicationError(_("A draft already exists: edit or publish it first."), code="draft_exists")
    number = (CatalogueVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    draft = CatalogueVersion.objects.create(number=number, created_by=acting_user)
    published = CatalogueVersion.objects.filter(status=CatalogueVersion.Status.PUBLISHED).first()
    if published is not None:
        for behaviour in published.behaviours.prefetch_related("sources"):
            sources = list(behaviour.sources.all())
            behaviour.pk, behaviour.id, behaviour.version = None, None, draft
            behaviour._state.adding = True
            behaviour.save()
            behaviour.sources.set(sources)
    audit_record(actor=acting_user, action="catalogue.draft", obj=draft, after={"number": number})
    return draft


def _check_code_keeps_its_meaning(behaviour: Behaviour) -> None:
    earlier = Behaviour.objects.filter(code=behaviour.code).exclude(version=behaviour.version).first()
    if earlier and (earlier.category_id, earlier.rule_kind) != (behaviour.category_id, behaviour.rule_kind):
        raise ApplicationError(
            _(
                "The code “%(code)s” already means “%(name)s” in version %(version)s. Choose a new code for a "
                "different behaviour."
            )
            % {"code": behaviour.code, "name": earlier.name_en, "version": earlier.version.number},
            code="code_reused",
        )


@role_required(OfficeRole.CATALOGUE_EDITOR)
@transaction.atomic
def behaviour_save(
    *,
    acting_user: User,
    version: CatalogueVersion,
    code: str,
    category: Category,
    name_en: str,
    name_zh: str,
    rule_kind: str,
    rule: dict,
    description_en: str = "",
    description_zh: str = "",
    cap_per_day=None,
    cap_per_month=None,
    cap_per_year=None,
    evidence_required: bool = False,
    sources: list[DataSource] = (),
) -> Behaviour:
    """Create or update the behaviour `code` in a draft. Validation lives in the model (it runs on every save)."""
    version = CatalogueVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != CatalogueVersion.Status.DRAFT:
        raise ApplicationError(_("Only a draft can be edited; start a new draft."), code="not_a_draft")
    behaviour = Behaviour.objects.filter(version=version, code=code).first() or Behaviour(version=version, code=code)
    before = _snapshot(behaviour) if behaviour.pk else None
    for field, value in {
        "category": category,
        "name_en": name_en,
        "name_zh": name_zh,
        "description_en": description_en,
        "description_zh": description_zh,
        "rule_kind": rule_kind,
        "rule": rule,
        "cap_per_day": cap_per_day,
        "cap_per_month": cap_per_month,
        "cap_per_year": cap_per_year,
        "evidence_required": evidence_required,
    }.items():
        setattr(behaviour, field, value)
    _check_code_keeps_its_meaning(behaviour)
    try:
        behaviour.save()
    except ValidationError as error:
        raise _as_application_error(error) from error
    behaviour.sources.set(sources)
    audit_record(
        actor=acting_user, action="catalogue.behaviour_save", obj=behaviour, before=before, after=_snapshot(behaviour)
    )
    return behaviour


def _snapshot(behaviour: Behaviour) -> dict:
    return {
        "code": behaviour.code,
        "category": behaviour.category_id,
        "name_en": behaviour.name_en,
        "name_zh": behaviour.name_zh,
        "rule_kind": behaviour.rule_kind,
        "rule": behaviour.rule,
        "caps": [behaviour.cap_per_day, behaviour.cap_per_month, behaviour.cap_per_year],
    }


@role_required(OfficeRole.CATALOGUE_EDITOR)
@transaction.atomic
def catalogue_publish(*, acting_user: User, version: CatalogueVersion, reason: str) -> CatalogueVersion:
    """Publish a draft and retire the published version, atomically. Entries already earned are untouched."""
    if not (reason or "").strip():
        raise ApplicationError(_("Say why this version is published; residents can read it."), code="reason_required")
    versions = {v.pk: v for v in CatalogueVersion.objects.select_for_update().order_by("pk")}
    version = versions[version.pk]
    if version.status != CatalogueVersion.Status.DRAFT:
        raise ApplicationError(_("Only a draft can be published."), code="not_a_draft")
    if not version.behaviours.exists():
        raise ApplicationError(_("A catalogue needs at least one behaviour."), code="empty_catalogue")
    for behaviour in version.behaviours.all():
        try:
            behaviour.clean()
        except ValidationError as error:
            raise _as_application_error(error) from error
    now = timezone.now()
    CatalogueVersion.objects.filter(status=CatalogueVersion.Status.PUBLISHED).update(
        status=CatalogueVersion.Status.RETIRED, retired_at=now
    )
    version.status, version.published_at = CatalogueVersion.Status.PUBLISHED, now
    version.published_by, version.publish_reason = acting_user, reason.strip()
    version.save()
    audit_record(
        actor=acting_user,
        action="catalogue.publish",
        obj=version,
        reason=reason.strip(),
        after={"number": version.number},
    )
    return version


@role_required(OfficeRole.CATALOGUE_EDITOR)
@transaction.atomic
def behaviour_remove(*, acting_user: User, version: CatalogueVersion, code: str) -> None:
    """Take a behaviour out of a draft (published versions never change)."""
    version = CatalogueVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != CatalogueVersion.Status.DRAFT:
        raise ApplicationError(_("Only a draft can be edited; start a new draft."), code="not_a_draft")
    behaviour = Behaviour.objects.filter(version=version, code=code).first()
    if behaviour is None:
        raise ApplicationError(_("There is no behaviour “%(code)s” in this draft.") % {"code": code}, code="not_found")
    audit_record(actor=acting_user, action="catalogue.behaviour_remove", obj=behaviour, before=_snapshot(behaviour))
    behaviour.delete()
