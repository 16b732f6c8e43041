"""Catalogue publishing in the office console: draft, edit, compare, publish; the version history."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import AuditEvent, Behaviour, CatalogueVersion, OfficeRole
from citizenpoints.office.access import office_role_required
from citizenpoints.office.catalogue_forms import BehaviourForm
from citizenpoints.office.selectors import catalogue_diff
from citizenpoints.services.catalogue import (
    behaviour_remove,
    behaviour_save,
    catalogue_draft_start,
    catalogue_publish,
)

EDITORS = (OfficeRole.CATALOGUE_EDITOR,)
READERS = (OfficeRole.CATALOGUE_EDITOR, OfficeRole.AUDITOR, OfficeRole.REVIEWER)


def _published():
    return CatalogueVersion.objects.filter(status=CatalogueVersion.Status.PUBLISHED).first()


@office_role_required(*READERS)
def versions(request):
    all_versions = CatalogueVersion.objects.select_related("published_by", "created_by")
    draft = next((v for v in all_versions if v.status == CatalogueVersion.Status.DRAFT), None)
    return render(request, "office/catalogue/versions.html", {"versions": all_versions, "draft": draft})


@require_POST
@office_role_required(*EDITORS)
def draft_start(request):
    try:
        draft = catalogue_draft_start(acting_user=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("office:catalogue")
    messages.success(request, _("Draft %(number)s holds a copy of the published catalogue.") % {"number": draft.number})
    return redirect("office:catalogue_version", number=draft.number)


@office_role_required(*READERS)
def version_detail(request, number):
    version = get_object_or_404(CatalogueVersion, number=number)
    published = _published()
    behaviours = (
        Behaviour.objects.filter(version=version).select_related("category").order_by("category__position", "code")
    )
    context = {
        "version": version,
        "behaviours": behaviours,
        "published": published,
        "changes": catalogue_diff(version=version, against=published) if version != published else [],
        "history": AuditEvent.objects.filter(object_type="citizenpoints.catalogueversion", object_id=str(version.pk))
        .select_related("actor")
        .order_by("at"),
    }
    return render(request, "office/catalogue/version.html", context)


@office_role_required(*EDITORS)
def behaviour_edit(request, number, code=None):
    version = get_object_or_404(CatalogueVersion, number=number, status=CatalogueVersion.Status.DRAFT)
    behaviour = get_object_or_404(Behaviour, version=version, code=code) if code else None
    initial = BehaviourForm.initial_from(behaviour) if behaviour else {"rule_kind": "fixed"}
    form = BehaviourForm(request.POST or None, initial=initial)
    if behaviour:
        form.fields["code"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            behaviour_save(
                acting_user=request.user,
                version=version,
                code=data["code"],
                category=data["category"],
                name_en=data["name_en"],
                name_zh=data["name_zh"],
                description_en=data["description_en"],
                description_zh=data["description_zh"],
                rule_kind=data["rule_kind"],
                rule=data["rule"],
                cap_per_day=data["cap_per_day"],
                cap_per_month=data["cap_per_month"],
                cap_per_year=data["cap_per_year"],
                evidence_required=data["evidence_required"],
                sources=list(data["sources"]),
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Saved in draft %(number)s.") % {"number": version.number})
            return redirect("office:catalogue_version", number=version.number)
    return render(
        request, "office/catalogue/behaviour_form.html", {"form": form, "version": version, "behaviour": behaviour}
    )


@require_POST
@office_role_required(*EDITORS)
def behaviour_delete(request, number, code):
    version = get_object_or_404(CatalogueVersion, number=number)
    try:
        behaviour_remove(acting_user=request.user, version=version, code=code)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("“%(code)s” is out of the draft.") % {"code": code})
    return redirect("office:catalogue_version", number=number)


@require_POST
@office_role_required(*EDITORS)
def publish(request, number):
    version = get_object_or_404(CatalogueVersion, number=number)
    try:
        catalogue_publish(acting_user=request.user, version=version, reason=request.POST.get("reason", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Version %(number)s is published. Points already earned keep their version.") % {"number": number},
        )
    return redirect("office:catalogue_version", number=number)
