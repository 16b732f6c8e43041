"""Claims in the office console: the reviewers' queue (oldest first, filtered) and one claim with its photos, the
rule it falls under, what approving would award, and the decision. Auditors read; reviewers decide."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citizenpoints.forms import IsoDateInput
from citizenpoints.models import AuditEvent, Behaviour, Category, Claim, OfficeRole
from citizenpoints.office.access import office_role_required
from citizenpoints.services.access import resident_file_open
from citizenpoints.services.claims import (
    REASON_MIN,
    ClaimError,
    QueueFilters,
    claim_approve,
    claim_award_estimate,
    claim_queue,
    claim_reject,
    claimable_behaviours,
)
from citizenpoints.services.permissions import has_role
from citizenpoints.templatetags.points import local, points

DECIDERS = (OfficeRole.REVIEWER,)
READERS = (OfficeRole.REVIEWER, OfficeRole.AUDITOR)
QUEUE_PAGE_SIZE = 25


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    behaviour = forms.ChoiceField(label=gettext_lazy("Behaviour"), required=False)
    filed_from = forms.DateField(label=gettext_lazy("Filed from"), required=False, widget=IsoDateInput())
    filed_to = forms.DateField(label=gettext_lazy("Filed until"), required=False, widget=IsoDateInput())

    def __init__(self, data):
        super().__init__(data)
        self.fields["status"].choices = [*Claim.Status.choices, ("all", _("Any status"))]
        self.fields["category"].choices = [("", _("All categories"))] + [
            (category.code, local(category, "name")) for category in Category.objects.order_by("position")
        ]
        # Every behaviour claimable now or named by some claim (claims outlive catalogue versions), once per code.
        codes = {*Claim.objects.values_list("behaviour__code", flat=True).distinct()}
        codes |= {*claimable_behaviours().values_list("code", flat=True)}
        names = {}
        for behaviour in Behaviour.objects.filter(code__in=codes).order_by("code", "-version__number"):
            names.setdefault(behaviour.code, local(behaviour, "name"))
        self.fields["behaviour"].choices = [("", _("All behaviours")), *sorted(names.items(), key=lambda i: i[1])]

    def filters(self) -> QueueFilters:
        data = self.cleaned_data if self.is_valid() else {}
        status = data.get("status") or Claim.Status.PENDING
        return QueueFilters(
            status="" if status == "all" else status,
            category=data.get("category") or "",
            behaviour=data.get("behaviour") or "",
            filed_from=data.get("filed_from"),
            filed_to=data.get("filed_to"),
        )


@office_role_required(*READERS)
def queue(request):
    form = QueueFilterForm(request.GET or {"status": Claim.Status.PENDING})
    filters = form.filters()
    page = Paginator(claim_queue(filters), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "pending_count": Claim.objects.filter(status=Claim.Status.PENDING).count(),
        "filters": filters,
    }
    return render(request, "office/claims/queue.html", context)


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason the resident will read"),
        help_text=gettext_lazy("Say what was missing or why it does not qualify, and what they could do instead."),
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=REASON_MIN,
        max_length=2000,
    )


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note to the resident (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )


def _detail(request, claim: Claim, *, approve_form=None, reject_form=None, status=200):
    estimate = claim_award_estimate(claim=claim) if claim.status == Claim.Status.PENDING else None
    if reject_form is None:
        initial = {}
        if estimate is not None and estimate.refusal:
            initial["reason"] = _("This claim cannot earn points: %(why)s") % {"why": estimate.refusal}
        reject_form = RejectForm(initial=initial)
    context = {
        "claim": claim,
        "resident": claim.resident,
        "estimate": estimate,
        "photos": claim.photos.all(),
        "approve_form": approve_form or ApproveForm(),
        "reject_form": reject_form,
        "can_decide": any(has_role(request.user, role) for role in DECIDERS),
        "history": AuditEvent.objects.filter(object_type=Claim._meta.label_lower, object_id=str(claim.pk))
        .select_related("actor")
        .order_by("at", "id"),
    }
    return render(request, "office/claims/detail.html", context, status=status)


def _claim(pk: int) -> Claim:
    return get_object_or_404(
        Claim.objects.select_related(
            "resident", "behaviour", "behaviour__category", "behaviour__version", "ledger_entry", "decided_by"
        ),
        pk=pk,
    )


@office_role_required(*READERS)
def detail(request, pk):
    claim = _claim(pk)
    # Opening a claim shows the resident (number and given name): the resident's access log records it.
    resident_file_open(acting_user=request.user, resident=claim.resident, reason=f"claim {claim.pk}")
    return _detail(request, claim)


@require_POST
@office_role_required(*DECIDERS)
def approve(request, pk):
    claim = _claim(pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _detail(request, claim, approve_form=form, status=400)
    try:
        claim = claim_approve(acting_user=request.user, claim=claim, note=form.cleaned_data["note"])
    except ClaimError as error:
        messages.error(request, error.message)
        if error.code == "award_refused":
            messages.info(request, _("You can reject the claim instead, with this reason for the resident."))
        return redirect("office:claim", pk=pk)
    awarded = points(claim.ledger_entry.points if claim.ledger_entry else 0)
    messages.success(
        request, _("Claim %(number)s approved: %(points)s awarded.") % {"number": claim.pk, "points": awarded}
    )
    return redirect(_next_in_queue(claim))


@require_POST
@office_role_required(*DECIDERS)
def reject(request, pk):
    claim = _claim(pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _detail(request, claim, reject_form=form, status=400)
    try:
        claim_reject(acting_user=request.user, claim=claim, reason=form.cleaned_data["reason"])
    except ClaimError as error:
        messages.error(request, error.message)
        return redirect("office:claim", pk=pk)
    messages.success(request, _("Claim %(number)s rejected; the resident can read your reason.") % {"number": pk})
    return redirect(_next_in_queue(claim))


def _next_in_queue(claim: Claim) -> str:
    """After a decision, the next oldest pending claim, or the queue when none is left."""
    following = claim_queue(QueueFilters()).exclude(pk=claim.pk).first()
    return reverse("office:claim", args=[following.pk]) if following else reverse("office:claims")
