"""Residents in the office console: find one, read their ledger as a reviewer, reverse a wrong award.

Every page that shows a resident's data records that the office opened their file (`resident_file_open`), which the
resident reads in their access log. A citizen card number is never asked for or shown.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import DataSource, LedgerEntry, OfficeRole, Resident
from citizenpoints.office.access import office_role_required
from citizenpoints.office.resident_selectors import (
    entry_by_record,
    resident_by_email,
    resident_by_number,
    resident_file,
    resident_ledger,
    reversal_preview,
)
from citizenpoints.services.access import resident_file_open
from citizenpoints.services.reversals import entry_reversal_refusal, entry_reverse, reversal_reason_clean
from citizenpoints.templatetags.points import local

REVIEWERS = (OfficeRole.REVIEWER,)
LEDGER_PAGE_SIZE = 25

# Why the file was opened, as the audit row (and so the resident's access log) records it.
FOUND_BY = {
    "number": "found by resident number",
    "email": "found by the account email the resident gave",
    "record": "found by a department's record id",
}


class ResidentNumberForm(forms.Form):
    number = forms.IntegerField(
        label=gettext_lazy("Resident number"),
        min_value=1,
        max_value=2**63 - 1,
        help_text=gettext_lazy("Residents find it on their profile page."),
    )


class AccountEmailForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Account email"),
        help_text=gettext_lazy(
            "Only when the resident asks at a desk and gives it. The whole address: only an exact match is found. "
            "The resident's access log shows that their file was opened."
        ),
    )


class SourceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return local(obj, "name")


class RecordForm(forms.Form):
    source = SourceChoiceField(
        label=gettext_lazy("Sent by"), queryset=DataSource.objects.order_by("kind", "code"), empty_label=None
    )
    external_id = forms.CharField(
        label=gettext_lazy("Record id"),
        max_length=100,
        help_text=gettext_lazy("The department's own id for the record, as the department or the resident quotes it."),
    )


SEARCHES = {"number": ResidentNumberForm, "email": AccountEmailForm, "record": RecordForm}


@office_role_required(*REVIEWERS)
def resident_search(request):
    """Three ways to find a resident. Searches are POSTed, so an email address never sits in a URL or a server log."""
    forms_ = {key: form_class(prefix=key) for key, form_class in SEARCHES.items()}
    by = request.POST.get("by")
    if request.method == "POST" and by in SEARCHES:
        form = forms_[by] = SEARCHES[by](request.POST, prefix=by)
        if form.is_valid():
            data = form.cleaned_data
            if by == "record":
                entry = entry_by_record(source=data["source"], external_id=data["external_id"])
                if entry is not None:
                    url = reverse("office:resident", args=[entry.resident_id])
                    return redirect(f"{url}?found=record&entry={entry.pk}#found")
                form.add_error("external_id", _("No record from this source has that id."))
            else:
                if by == "number":
                    resident = resident_by_number(number=data["number"])
                else:
                    resident = resident_by_email(email=data["email"])
                if resident is not None:
                    return redirect(f"{reverse('office:resident', args=[resident.pk])}?found={by}")
                field = "number" if by == "number" else "email"
                form.add_error(field, _("No resident matches. Check it with the resident."))
    return render(request, "office/residents/search.html", {"forms": forms_, "searched": by})


def _resident_or_404(number: int) -> Resident:
    return get_object_or_404(Resident, pk=number)


@office_role_required(*REVIEWERS)
def resident_detail(request, number):
    resident = _resident_or_404(number)
    found = request.GET.get("found")
    resident_file_open(
        acting_user=request.user, resident=resident, reason=FOUND_BY.get(found, "reviewing the resident's records")
    )
    file = resident_file(resident=resident)
    entries = resident_ledger(resident=resident)
    page = Paginator(entries, LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    found_entry = None
    if request.GET.get("entry", "").isdigit():
        found_entry = entries.filter(pk=int(request.GET["entry"])).first()
    context = {
        "file": file,
        "resident": resident,
        "page": page,
        "found_entry": found_entry,
        "found_entries": [found_entry] if found_entry else [],
    }
    return render(request, "office/residents/detail.html", context)


class ReversalForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why this record is wrong"),
        help_text=gettext_lazy(
            "The resident reads this, word for word, in their history, and may appeal against it. Say what was "
            "wrong and how you know (at least 10 characters)."
        ),
        widget=forms.Textarea(attrs={"rows": 4, "aria-required": "true"}),
        max_length=2000,
        required=False,  # the service's own rule (and message) decides, in clean_reason
    )

    def clean_reason(self):
        try:
            return reversal_reason_clean(self.cleaned_data["reason"])
        except ApplicationError as error:
            raise ValidationError(error.message, code=error.code) from error


@office_role_required(*REVIEWERS)
def entry_reverse_confirm(request, number, entry_id):
    """Reverse one award in two steps: write the reason, then confirm what will be taken back and the new score."""
    resident = _resident_or_404(number)
    entry = get_object_or_404(
        LedgerEntry.objects.select_related("behaviour", "source", "catalogue_version", "reversed_by"),
        pk=entry_id,
        resident=resident,
    )
    step = request.POST.get("step") if request.method == "POST" else None
    form = ReversalForm(request.POST if step else None)
    error = None
    if step == "confirm" and form.is_valid():
        try:
            reversal = entry_reverse(entry=entry, acting_user=request.user, reason=form.cleaned_data["reason"])
        except ApplicationError as refused:
            error = refused
        else:
            messages.success(
                request,
                _("The record is reversed. The resident has been told, with your reason, and may appeal."),
            )
            return redirect(f"{reverse('office:resident', args=[resident.pk])}#entry-{reversal.pk}")
    resident_file_open(acting_user=request.user, resident=resident, reason="preparing a reversal")
    refusal = error or entry_reversal_refusal(entry=entry)
    file = resident_file(resident=resident)
    context = {
        "resident": resident,
        "entry": entry,
        "form": form,
        "refusal": refusal,
        "confirming": step in ("review", "confirm") and form.is_valid() and refusal is None,
        "preview": reversal_preview(entry=entry, file=file) if refusal is None else None,
        "file": file,
    }
    status = 200 if error is None else 403 if error.code == "permission_denied" else 409
    return render(request, "office/residents/reverse.html", context, status=status)
