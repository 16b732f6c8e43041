"""Appeals in the office console: the queue (open first, earliest due first, overdue ones marked in words and by a
bar), one appeal with everything a reviewer needs to decide it, and the working-day calendar the deadlines count on.

Reviewers act; auditors read. The calendar is kept by reviewers: they own the deadlines it sets and are the office's
day-to-day staff, who know when it is shut (a superuser passes every role check anyway)."""

import datetime

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citizenpoints.exceptions import ApplicationError
from citizenpoints.forms import IsoDateInput
from citizenpoints.models import Appeal, AuditEvent, Balance, CalendarDay, LedgerEntry, OfficeRole
from citizenpoints.office.access import office_role_required
from citizenpoints.rules import AmountBandRule, PerUnitRule
from citizenpoints.services.access import resident_file_open
from citizenpoints.services.appeals import (
    REASON_MIN,
    appeal_award_behaviour,
    appeal_decide,
    appeal_is_overdue,
    appeal_queue,
    appeal_review_start,
    appeal_working_days_left,
    appeals_overdue,
)
from citizenpoints.services.calendar import (
    calendar_day_remove,
    calendar_day_save,
    is_working_day,
    local_today,
    working_days_between,
)
from citizenpoints.services.permissions import has_role
from citizenpoints.services.scoring import active_scheme, score_of

DECIDERS = (OfficeRole.REVIEWER,)
READERS = (OfficeRole.REVIEWER, OfficeRole.AUDITOR)
PAGE_SIZE = 25
CONTEXT_DAYS = 14  # the resident's records this many days either side of the act appealed


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    subject = forms.ChoiceField(label=gettext_lazy("About"), required=False)
    overdue = forms.BooleanField(label=gettext_lazy("Overdue only"), required=False)

    def __init__(self, data):
        super().__init__(data)
        self.fields["status"].choices = [
            ("open", _("Open (received or being reviewed)")),
            *Appeal.Status.choices,
            ("all", _("Any status")),
        ]
        self.fields["subject"].choices = [("", _("Anything")), *Appeal.Subject.choices]


@office_role_required(*READERS)
def queue(request):
    form = QueueFilterForm(request.GET or {"status": "open"})
    data = form.cleaned_data if form.is_valid() else {"status": "open"}
    status = data.get("status") or "open"
    today = local_today()
    appeals = appeal_queue(
        status=None if status in ("open", "all") else status,
        subject=data.get("subject") or None,
        overdue=bool(data.get("overdue")),
        today=today,
    )
    if status == "open":
        appeals = appeals.filter(status__in=Appeal.OPEN)
    page = Paginator(appeals, PAGE_SIZE).get_page(request.GET.get("page"))
    for appeal in page.object_list:
        appeal.overdue = appeal_is_overdue(appeal, today=today)
        appeal.days_left = appeal_working_days_left(appeal, today=today) if appeal.is_open else None
        appeal.days_late = max(1, -appeal.days_left) if appeal.overdue else 0  # a weekend after the due day: 1
    context = {
        "form": form,
        "page": page,
        "open_count": Appeal.objects.filter(status__in=Appeal.OPEN).count(),
        "overdue_count": appeals_overdue(today=today).count(),
        "today": today,
    }
    return render(request, "office/appeals/queue.html", context)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[
            ("grant", gettext_lazy("Grant: correct the points")),
            ("refuse", gettext_lazy("Refuse: the points stay as they are")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reasons the resident will read"),
        help_text=gettext_lazy("What you checked and what you found. Plain words: the resident reads this."),
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=REASON_MIN,
        max_length=2000,
    )
    quantity = forms.DecimalField(
        label=gettext_lazy("Corrected quantity (optional)"),
        help_text=gettext_lazy("Only if the records show a different quantity than the resident gave."),
        required=False,
        min_value=0,
        decimal_places=2,
    )
    amount = forms.DecimalField(
        label=gettext_lazy("Corrected amount (optional)"),
        help_text=gettext_lazy("Only if the records show a different amount than the resident gave."),
        required=False,
        min_value=0,
        decimal_places=2,
    )

    def __init__(self, *args, appeal: Appeal, **kwargs):
        super().__init__(*args, **kwargs)
        behaviour = appeal_award_behaviour(appeal)
        rule = behaviour.points_rule if behaviour is not None else None
        if not isinstance(rule, PerUnitRule):
            del self.fields["quantity"]
        if not isinstance(rule, AmountBandRule):
            del self.fields["amount"]


def _appeal(pk: int) -> Appeal:
    return get_object_or_404(
        Appeal.objects.select_related(
            "resident",
            "behaviour__category",
            "claim__behaviour__category",
            "claim__decided_by",
            "entry__behaviour",
            "entry__category",
            "entry__source",
            "entry__reverses",
            "entry__decided_by",
            "correction",
            "reviewer",
            "decided_by",
        ),
        pk=pk,
    )


def _ledger_context(appeal: Appeal) -> list[LedgerEntry]:
    """The resident's records around the act in question (same behaviour first is not needed: a fortnight is short)."""
    when = appeal.occurred_at or (appeal.claim.occurred_at if appeal.claim_id else None)
    if when is None and appeal.entry_id:
        when = appeal.entry.occurred_at
    entries = LedgerEntry.objects.filter(resident_id=appeal.resident_id)
    if when is not None:
        span = datetime.timedelta(days=CONTEXT_DAYS)
        entries = entries.filter(occurred_at__gte=when - span, occurred_at__lte=when + span)
    return list(
        entries.select_related("behaviour", "source", "reverses", "reversed_by").order_by("-occurred_at", "-id")[:50]
    )


def _detail(request, appeal: Appeal, *, form=None, status=200):
    today = local_today()
    balance = Balance.objects.filter(resident_id=appeal.resident_id).select_related("tier").first()
    score = score_of(balance=balance, scheme=active_scheme()) if balance else None
    context = {
        "appeal": appeal,
        "resident": appeal.resident,
        "overdue": appeal_is_overdue(appeal, today=today),
        "days_left": appeal_working_days_left(appeal, today=today) if appeal.is_open else None,
        "photos": list(appeal.photos.all()),
        "claim_photos": list(appeal.claim.photos.all()) if appeal.claim_id else [],
        "ledger": _ledger_context(appeal),
        "balance": balance,
        "score": score,
        "awarded_behaviour": appeal_award_behaviour(appeal),
        "entry_points_abs": abs(appeal.entry.points) if appeal.entry_id else None,
        "form": form or DecisionForm(appeal=appeal),
        "can_decide": any(has_role(request.user, role) for role in DECIDERS),
        "history": AuditEvent.objects.filter(object_type=Appeal._meta.label_lower, object_id=str(appeal.pk))
        .select_related("actor")
        .order_by("at", "id"),
        "today": today,
    }
    return render(request, "office/appeals/detail.html", context, status=status)


@office_role_required(*READERS)
def detail(request, pk):
    appeal = _appeal(pk)
    # The page shows the resident (number, given name, records): the resident's access log records the opening.
    resident_file_open(acting_user=request.user, resident=appeal.resident, reason=f"appeal {appeal.pk}")
    return _detail(request, appeal)


@require_POST
@office_role_required(*DECIDERS)
def review_start(request, pk):
    appeal = _appeal(pk)
    try:
        appeal_review_start(acting_user=request.user, appeal=appeal)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("You are reviewing appeal %(number)s; the resident sees it is being reviewed.") % {"number": appeal.pk},
        )
    return redirect("office:appeal", pk=pk)


@require_POST
@office_role_required(*DECIDERS)
def decide(request, pk):
    appeal = _appeal(pk)
    form = DecisionForm(request.POST, appeal=appeal)
    if not form.is_valid():
        return _detail(request, appeal, form=form, status=400)
    data = form.cleaned_data
    try:
        decided = appeal_decide(
            acting_user=request.user,
            appeal=appeal,
            grant=data["decision"] == "grant",
            reason=data["reason"],
            quantity=data.get("quantity"),
            amount=data.get("amount"),
        )
    except ApplicationError as error:
        form.add_error(None, error.message)
        return _detail(request, appeal, form=form, status=409)
    if decided.status == Appeal.Status.GRANTED:
        points = decided.correction.points if decided.correction else 0
        messages.success(
            request,
            _("Appeal %(number)s granted; the ledger is corrected (%(points)s points).")
            % {"number": pk, "points": points},
        )
    else:
        messages.success(request, _("Appeal %(number)s refused; the resident can read your reasons.") % {"number": pk})
    return redirect("office:appeal", pk=pk)


# --- The working-day calendar.
class CalendarDayForm(forms.Form):
    date = forms.DateField(label=gettext_lazy("Date"), widget=IsoDateInput())
    is_working_day = forms.TypedChoiceField(
        label=gettext_lazy("The office"),
        choices=[
            ("0", gettext_lazy("is shut (a public holiday)")),
            ("1", gettext_lazy("works (a make-up working day on a weekend)")),
        ],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=100)
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=100)


@office_role_required(*READERS)
def calendar(request):
    today = local_today()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    year = min(max(year, 2000), 2100)
    days = list(CalendarDay.objects.filter(date__year=year))
    start, end = datetime.date(year - 1, 12, 31), datetime.date(year, 12, 31)
    context = {
        "year": year,
        "days": days,
        "years": sorted({*(day.year for day in CalendarDay.objects.dates("date", "year")), year, today.year}),
        "working_days": working_days_between(start, end),
        "can_edit": has_role(request.user, OfficeRole.REVIEWER),
        "today": today,
        "today_works": is_working_day(today),
    }
    return render(request, "office/appeals/calendar.html", context)


@office_role_required(*DECIDERS)
def calendar_day_edit(request, pk=None):
    day = get_object_or_404(CalendarDay, pk=pk) if pk else None
    initial = (
        {
            "date": day.date,
            "is_working_day": "1" if day.is_working_day else "0",
            "name_en": day.name_en,
            "name_zh": day.name_zh,
        }
        if day
        else {"is_working_day": "0"}
    )
    form = CalendarDayForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = calendar_day_save(acting_user=request.user, day=day, **data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("%(date)s is saved in the calendar.") % {"date": saved.date.isoformat()})
            return redirect(f"{_calendar_url()}?year={saved.date.year}")
    return render(request, "office/appeals/calendar_day.html", {"form": form, "day": day})


@require_POST
@office_role_required(*DECIDERS)
def calendar_day_delete(request, pk):
    day = get_object_or_404(CalendarDay, pk=pk)
    year = day.date.year
    try:
        calendar_day_remove(acting_user=request.user, day=day)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The day is out of the calendar."))
    return redirect(f"{_calendar_url()}?year={year}")


def _calendar_url() -> str:
    return reverse("office:calendar")
