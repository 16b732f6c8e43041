"""Tier schemes in the office console: what each scheme would mean for residents today, and the switch."""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import OfficeRole, TierScheme
from citizenpoints.office.access import office_role_required
from citizenpoints.office.selectors import TierCount, tier_schemes_with_counts
from citizenpoints.services.tiers import tier_scheme_switch
from citizenpoints.templatetags.points import local

EDITORS = (OfficeRole.CATALOGUE_EDITOR,)
READERS = (OfficeRole.CATALOGUE_EDITOR, OfficeRole.AUDITOR, OfficeRole.REVIEWER)


class SchemeSwitchForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why the scheme changes (residents are told)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=10,
        max_length=1000,
    )
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I understand every resident's tier is recomputed now, and benefits must be given a tier "
            "of this scheme before residents can use them again."
        ),
    )


@dataclass
class SchemeView:
    scheme: TierScheme
    tiers: list[TierCount]
    form: SchemeSwitchForm | None


def _scheme_views(switch_forms: dict[int, SchemeSwitchForm] | None = None) -> list[SchemeView]:
    views = []
    for scheme, tiers in tier_schemes_with_counts():
        form = None if scheme.is_active else (switch_forms or {}).get(scheme.pk) or SchemeSwitchForm(prefix=scheme.code)
        views.append(SchemeView(scheme=scheme, tiers=tiers, form=form))
    return views


def _benefits_to_repoint_url() -> str:
    """The partner screens live in the benefits app, which the points domain does not import."""
    try:
        return reverse("benefits:office-benefits-new-tier")
    except NoReverseMatch:
        return ""


def _schemes_page(request, *, switch_forms=None, status=200):
    context = {
        "schemes": _scheme_views(switch_forms),
        "can_switch": request.user.is_superuser or bool(set(EDITORS) & request.user.office_roles),
        "benefits_url": _benefits_to_repoint_url(),
    }
    return render(request, "office/tiers/schemes.html", context, status=status)


@office_role_required(*READERS)
def schemes(request):
    return _schemes_page(request)


@require_POST
@office_role_required(*EDITORS)
def switch(request, code):
    scheme = get_object_or_404(TierScheme, code=code)
    form = SchemeSwitchForm(request.POST, prefix=scheme.code)
    if form.is_valid():
        try:
            changes = tier_scheme_switch(acting_user=request.user, scheme=scheme, reason=form.cleaned_data["reason"])
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("“%(scheme)s” is active. %(changes)s residents moved tier.")
                % {"scheme": local(scheme, "name"), "changes": changes},
            )
            return redirect("office:tiers")
    return _schemes_page(request, switch_forms={scheme.pk: form}, status=400)
