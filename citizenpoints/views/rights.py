"""The resident's rights over their data: personal report (page and PDF), export, access log, new terms, leaving."""

from allauth.account.decorators import reauthentication_required
from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citizenpoints.exceptions import ApplicationError
from citizenpoints.middleware import TERMS_SEEN_SESSION_KEY
from citizenpoints.models import ExportRequest
from citizenpoints.personal_data import OnLeave, datasets
from citizenpoints.selectors import resident_access_log, resident_report
from citizenpoints.services.exports import export_request, private_storage
from citizenpoints.services.leaving import resident_leave
from citizenpoints.services.residents import current_terms_version, resident_consent_renew
from citizenpoints.views.residents import resident_required

ACCESS_PAGE_SIZE = 50


def _report_context(request, resident, *, for_pdf: bool) -> dict:
    return {"report": resident_report(resident=resident), "for_pdf": for_pdf}


@resident_required
def report(request, resident):
    return render(request, "citizenpoints/rights/report.html", _report_context(request, resident, for_pdf=False))


@resident_required
def report_pdf(request, resident):
    """The same template as the page, laid out by its print stylesheet; free and as often as wanted."""
    from citizenpoints.pdf import html_to_pdf  # WeasyPrint is heavy to import: only here

    html = render_to_string(
        "citizenpoints/rights/report.html", _report_context(request, resident, for_pdf=True), request=request
    )
    response = HttpResponse(html_to_pdf(html), content_type="application/pdf")
    filename = f"citypoints-report-{timezone.localdate():%Y-%m-%d}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@resident_required
def export(request, resident):
    if request.method == "POST":
        try:
            export_request(resident=resident, acting_user=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("We are preparing your data. This page shows the download link when it is ready.")
            )
        return redirect("rights_export")
    exports = ExportRequest.objects.filter(resident=resident).order_by("-requested_at")[:10]
    context = {"exports": exports, "now": timezone.now(), "datasets": datasets()}
    return render(request, "citizenpoints/rights/export.html", context)


@resident_required
def export_download(request, resident, export_id):
    """Only the owner, only while it is ready and not expired; never from a public URL."""
    export = ExportRequest.objects.filter(pk=export_id, resident=resident).first()
    if export is None:
        raise Http404
    if not export.is_downloadable():
        messages.error(request, _("This download has expired. Ask for a new one."))
        return redirect("rights_export")
    response = FileResponse(
        private_storage().open(export.file_name, "rb"),
        as_attachment=True,
        filename=f"citypoints-data-{export.ready_at:%Y-%m-%d}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response


@resident_required
def access_log(request, resident):
    page = Paginator(resident_access_log(resident=resident), ACCESS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "citizenpoints/rights/access_log.html", {"page": page})


class RenewConsentForm(forms.Form):
    terms_version = forms.CharField(widget=forms.HiddenInput)
    consent = forms.BooleanField(
        label=gettext_lazy("I have read the new terms and agree to them."),
        required=False,  # the service refuses a missing tick with its own message
    )


@resident_required
def consent(request, resident):
    """New terms: read them and agree, or leave. The middleware sends residents here until they answer."""
    version = current_terms_version()
    if resident.terms_version == version and request.method == "GET":
        return redirect("profile")
    form = RenewConsentForm(request.POST or None, initial={"terms_version": version})
    if request.method == "POST" and form.is_valid():
        try:
            resident_consent_renew(
                resident=resident,
                accepted_terms_version=form.cleaned_data["terms_version"] if form.cleaned_data["consent"] else None,
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            request.session[TERMS_SEEN_SESSION_KEY] = version
            messages.success(request, _("Thank you. You agreed to the terms of %(version)s.") % {"version": version})
            return redirect(request.GET.get("next") if _safe_next(request) else "home")
    context = {"form": form, "version": version, "previous_version": resident.terms_version}
    return render(request, "citizenpoints/rights/consent.html", context)


def _safe_next(request) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.GET.get("next")
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


class LeaveForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that leaving erases my account and cannot be undone."),
        error_messages={"required": gettext_lazy("Tick the box to confirm that you want to leave.")},
    )


@reauthentication_required(allow_get=True)
@resident_required
def leave(request, resident):
    """What leaving erases and what stays anonymous; leaving asks for the password again (allauth reauthentication)."""
    form = LeaveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            resident_leave(resident=resident, acting_user=request.user)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            logout(request)
            return redirect("rights_left")
    groups = {
        kind: [dataset for dataset in datasets() if dataset.on_leave == kind]
        for kind in (OnLeave.ERASED, OnLeave.DETACHED, OnLeave.ANONYMISED)
    }
    return render(request, "citizenpoints/rights/leave.html", {"form": form, "groups": groups})


def left(request):
    """Shown once the account is gone: a plain goodbye, and how to come back."""
    return render(request, "citizenpoints/rights/left.html")
