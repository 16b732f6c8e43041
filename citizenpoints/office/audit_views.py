"""The audit trail for auditors: search and export every staff action."""

import csv
import datetime
import json

from django import forms
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citizenpoints.forms import IsoDateInput
from citizenpoints.models import AuditEvent, OfficeRole
from citizenpoints.office.access import office_role_required


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Who (email contains)"), required=False)
    action = forms.CharField(
        label=_("Action contains"), required=False, help_text=_("e.g. catalogue, api_key, reverse")
    )
    object_type = forms.CharField(label=_("Object type"), required=False)
    object_id = forms.CharField(label=_("Object id"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=IsoDateInput())
    until = forms.DateField(label=_("To"), required=False, widget=IsoDateInput())


def audit_events(data: dict):
    """AuditEvents matching a validated filter, newest first."""
    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    if data.get("actor"):
        events = events.filter(actor__email__icontains=data["actor"])
    if data.get("action"):
        events = events.filter(action__icontains=data["action"])
    if data.get("object_type"):
        events = events.filter(object_type__icontains=data["object_type"])
    if data.get("object_id"):
        events = events.filter(object_id=data["object_id"])
    zone = timezone.get_current_timezone()
    if data.get("since"):
        events = events.filter(at__gte=datetime.datetime.combine(data["since"], datetime.time.min, tzinfo=zone))
    if data.get("until"):
        end = data["until"] + datetime.timedelta(days=1)
        events = events.filter(at__lt=datetime.datetime.combine(end, datetime.time.min, tzinfo=zone))
    return events


@office_role_required(OfficeRole.AUDITOR)
def audit_trail(request):
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    page = Paginator(audit_events(data), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "office/audit.html", {"form": form, "page": page, "query": query.urlencode()})


class _Echo:
    def write(self, value):
        return value


@office_role_required(OfficeRole.AUDITOR)
def audit_export(request):
    """The filtered trail as CSV, streamed so a year of events does not sit in memory."""
    form = AuditFilterForm(request.GET or None)
    events = audit_events(form.cleaned_data if form.is_valid() else {})
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"
        yield writer.writerow(["at", "actor", "action", "object_type", "object_id", "reason", "before", "after", "ip"])
        for event in events.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    event.at.isoformat(),
                    event.actor.email if event.actor else "",
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.reason,
                    json.dumps(event.before, ensure_ascii=False),
                    json.dumps(event.after, ensure_ascii=False),
                    event.ip_address or "",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{timezone.localdate():%Y%m%d}.csv"'
    return response
