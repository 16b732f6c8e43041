"""The resident's appeals (phone first): appeal a record, a correction or a rejected claim, or ask for points that
never came; the acknowledgement with its deadline; the list of one's appeals and each one's steps."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import Appeal, Behaviour, CatalogueVersion, Claim, LedgerEntry
from citizenpoints.rules import AmountBandRule, PerUnitRule
from citizenpoints.services.appeals import (
    appeal_file,
    appeal_is_overdue,
    appeal_working_days_left,
)
from citizenpoints.services.calendar import local_today
from citizenpoints.services.evidence import MAX_PHOTOS
from citizenpoints.templatetags.points import local, rule_in_words
from citizenpoints.views.residents import resident_required

PAGE_SIZE = 20
# Which form field a refusal belongs to, so the error sits next to what needs changing.
ERROR_FIELDS = {
    "statement_required": "statement",
    "statement_too_long": "statement",
    "unknown_behaviour": "behaviour",
    "naive_datetime": "occurred_at",
    "in_future": "occurred_at",
    "outside_window": "occurred_at",
    "quantity_required": "quantity",
    "amount_required": "amount",
    "malformed": "quantity",
    "too_many_photos": "photo_1",
    "file_too_large": "photo_1",
    "image_too_large": "photo_1",
    "not_an_image": "photo_1",
}


class PhotoInput(forms.ClearableFileInput):
    def __init__(self):
        super().__init__(attrs={"accept": "image/*"})  # a phone offers its camera and its photo library


class AppealForm(forms.Form):
    statement = forms.CharField(
        label=gettext_lazy("Your statement"),
        help_text=gettext_lazy("What happened, and what you ask the credit office to do. Do not write ID numbers."),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=4000,
    )
    photo_1 = forms.FileField(label=gettext_lazy("Photo (optional)"), required=False, widget=PhotoInput())
    photo_2 = forms.FileField(label=gettext_lazy("Second photo (optional)"), required=False, widget=PhotoInput())
    photo_3 = forms.FileField(label=gettext_lazy("Third photo (optional)"), required=False, widget=PhotoInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photo_1"].help_text = _(
            "Up to %(count)d photos that support your appeal (a receipt, a certificate). Location and camera details "
            "are removed from every photo."
        ) % {"count": MAX_PHOTOS}

    def photos(self) -> list:
        return [self.cleaned_data[name] for name in ("photo_1", "photo_2", "photo_3") if self.cleaned_data.get(name)]


class MissingPointsForm(AppealForm):
    behaviour = forms.ChoiceField(label=gettext_lazy("What did you do?"))
    occurred_at = forms.DateTimeField(
        label=gettext_lazy("When"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    quantity = forms.DecimalField(label=gettext_lazy("How many"), required=False, min_value=0, decimal_places=2)
    amount = forms.DecimalField(label=gettext_lazy("Amount (yuan)"), required=False, min_value=0, decimal_places=2)
    field_order = ["behaviour", "occurred_at", "quantity", "amount", "statement"]

    def __init__(self, *args, behaviours, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["behaviour"].choices = [("", _("Choose…"))] + [
            (behaviour.code, f"{local(behaviour, 'name')} · {rule_in_words(behaviour)}") for behaviour in behaviours
        ]
        self.fields["occurred_at"].widget.attrs["max"] = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
        self.fields["occurred_at"].help_text = _("Within the last 12 months: older acts no longer count.")
        per_unit = [b for b in behaviours if isinstance(b.points_rule, PerUnitRule)]
        by_amount = [b for b in behaviours if isinstance(b.points_rule, AmountBandRule)]
        for name, which in (("quantity", per_unit), ("amount", by_amount)):
            if which:
                self.fields[name].help_text = _("Only for: %(names)s.") % {
                    "names": ", ".join(local(b, "name") for b in which)
                }
            else:
                del self.fields[name]
        self.fields["statement"].help_text = _(
            "Who recorded it (the library, the metro…), where, and anything that helps us find the record."
        )


def _published_behaviours() -> list[Behaviour]:
    return list(
        Behaviour.objects.filter(version__status=CatalogueVersion.Status.PUBLISHED)
        .select_related("category")
        .order_by("category__position", "name_en")
    )


def _file(request, resident, form, **subject):
    """Validate and file; returns the appeal, or None with the refusal placed on the form."""
    if not form.is_valid():
        return None
    try:
        return appeal_file(resident=resident, statement=form.cleaned_data["statement"], photos=form.photos(), **subject)
    except ApplicationError as error:
        field = ERROR_FIELDS.get(error.code)
        form.add_error(field if field in form.fields else None, error.message)
        return None


def _filed(request, appeal):
    messages.success(request, _("Your appeal is received."))
    return redirect("appeal_detail", pk=appeal.pk)


def _form_page(request, **context):
    context["working_days"] = settings.CITYPOINTS_APPEAL_WORKING_DAYS
    return render(request, "citizenpoints/appeals/new.html", context)


def _open_appeal_about(**subject) -> Appeal | None:
    return Appeal.objects.filter(status__in=Appeal.OPEN, **subject).first()


@resident_required
def appeal_list(request, resident):
    appeals = Appeal.objects.filter(resident=resident).select_related(
        "behaviour", "entry__behaviour", "claim__behaviour"
    )
    page = Paginator(appeals, PAGE_SIZE).get_page(request.GET.get("page"))
    today = local_today()
    for appeal in page.object_list:
        appeal.overdue = appeal_is_overdue(appeal, today=today)
    return render(request, "citizenpoints/appeals/list.html", {"page": page})


@resident_required
def appeal_missing(request, resident):
    behaviours = _published_behaviours()
    form = MissingPointsForm(request.POST or None, request.FILES or None, behaviours=behaviours)
    if request.method == "POST":
        data = form.cleaned_data if form.is_valid() else {}
        appeal = data and _file(
            request,
            resident,
            form,
            subject=Appeal.Subject.MISSING_POINTS,
            behaviour_code=data["behaviour"],
            occurred_at=data["occurred_at"],
            quantity=data.get("quantity"),
            amount=data.get("amount"),
        )
        if appeal:
            return _filed(request, appeal)
    return _form_page(request, form=form, subject="missing")


@resident_required
def appeal_entry(request, resident, entry_id):
    """Appeal a record (an award) or a correction (a reversal) from the history."""
    entry = get_object_or_404(
        LedgerEntry.objects.select_related("behaviour", "category", "source", "catalogue_version", "reverses"),
        pk=entry_id,
        resident=resident,
    )
    already = _open_appeal_about(entry=entry)
    if already:
        messages.info(request, _("You already appealed this. Here is where it stands."))
        return redirect("appeal_detail", pk=already.pk)
    subject = Appeal.Subject.REVERSAL if entry.kind == LedgerEntry.Kind.REVERSAL else Appeal.Subject.ENTRY
    form = AppealForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        appeal = _file(request, resident, form, subject=subject, entry=entry)
        if appeal:
            return _filed(request, appeal)
    return _form_page(request, form=form, subject=subject, entry=entry)


@resident_required
def appeal_claim(request, resident, claim_id):
    claim = get_object_or_404(Claim.objects.select_related("behaviour"), pk=claim_id, resident=resident)
    already = _open_appeal_about(claim=claim)
    if already:
        messages.info(request, _("You already appealed this. Here is where it stands."))
        return redirect("appeal_detail", pk=already.pk)
    form = AppealForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        appeal = _file(request, resident, form, subject=Appeal.Subject.CLAIM, claim=claim)
        if appeal:
            return _filed(request, appeal)
    return _form_page(request, form=form, subject="claim", claim=claim)


@resident_required
def appeal_detail(request, resident, pk):
    appeal = get_object_or_404(
        Appeal.objects.select_related(
            "behaviour",
            "claim__behaviour",
            "correction__behaviour",
            "correction__category",
            "correction__source",
            "correction__catalogue_version",
            "correction__reverses",
            "entry__behaviour",
            "entry__category",
            "entry__source",
            "entry__catalogue_version",
            "entry__reverses",
        ),
        pk=pk,
        resident=resident,
    )
    today = local_today()
    context = {
        "appeal": appeal,
        "overdue": appeal_is_overdue(appeal, today=today),
        "days_left": appeal_working_days_left(appeal, today=today) if appeal.is_open else None,
        "photos": list(appeal.photos.all()),
    }
    return render(request, "citizenpoints/appeals/detail.html", context)
