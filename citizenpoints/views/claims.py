"""The resident's claims: the list of their own, filing one with photos (from a phone), and each claim's decision;
and the one view that serves an evidence photo, to its owner or to a reviewer or auditor."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import EvidencePhoto
from citizenpoints.rules import AmountBandRule, PerUnitRule
from citizenpoints.services.claims import (
    MAX_PENDING,
    ClaimError,
    claim_file,
    claimable_behaviours,
    claims_of_resident,
)
from citizenpoints.services.evidence import MAX_PHOTOS, EvidenceError, photo_read
from citizenpoints.services.permissions import PermissionRefused
from citizenpoints.templatetags.points import local
from citizenpoints.views.residents import resident_required

CLAIMS_PAGE_SIZE = 20
# Which form field a service refusal belongs to, so the error sits next to what needs changing.
ERROR_FIELDS = {
    "not_claimable": "behaviour",
    "description_required": "description",
    "place_required": "place",
    "in_future": "occurred_at",
    "outside_window": "occurred_at",
    "naive_datetime": "occurred_at",
    "duplicate": "occurred_at",
    "quantity_required": "quantity",
    "amount_required": "amount",
    "photo_required": "photo_1",
    "too_many_photos": "photo_1",
    "file_too_large": "photo_1",
    "image_too_large": "photo_1",
    "not_an_image": "photo_1",
}


class PhotoInput(forms.ClearableFileInput):
    """A phone opens its camera or its photo library for this input; only images are offered."""

    def __init__(self):
        # "image/*" alone: iOS then converts its HEIC photos to JPEG, which the evidence pipeline reads.
        super().__init__(attrs={"accept": "image/*"})


class ClaimForm(forms.Form):
    behaviour = forms.ChoiceField(label=gettext_lazy("What did you do?"))
    description = forms.CharField(
        label=gettext_lazy("Tell us about it"),
        help_text=gettext_lazy("What you did and for whom, in a sentence or two. Do not write anyone's ID number."),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
    )
    occurred_at = forms.DateTimeField(
        label=gettext_lazy("When"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    place = forms.CharField(
        label=gettext_lazy("Where it happened"),
        help_text=gettext_lazy("A street, a building or a landmark is enough."),
        max_length=200,
    )
    quantity = forms.DecimalField(label=gettext_lazy("How many"), required=False, min_value=0, decimal_places=2)
    amount = forms.DecimalField(label=gettext_lazy("Amount (yuan)"), required=False, min_value=0, decimal_places=2)
    photo_1 = forms.FileField(label=gettext_lazy("Photo 1"), widget=PhotoInput())
    photo_2 = forms.FileField(label=gettext_lazy("Photo 2 (optional)"), required=False, widget=PhotoInput())
    photo_3 = forms.FileField(label=gettext_lazy("Photo 3 (optional)"), required=False, widget=PhotoInput())

    def __init__(self, *args, behaviours, **kwargs):
        super().__init__(*args, **kwargs)
        self.behaviours = {behaviour.code: behaviour for behaviour in behaviours}
        self.fields["behaviour"].choices = [("", _("Choose…"))] + [
            (behaviour.code, local(behaviour, "name")) for behaviour in behaviours
        ]
        self.fields["occurred_at"].widget.attrs["max"] = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
        self.fields["photo_1"].help_text = _(
            "Up to %(count)d photos that show what you did: take them now or choose them from your phone. Location "
            "and camera details are removed from every photo."
        ) % {"count": MAX_PHOTOS}
        # Quantity and amount only when some claimable behaviour's rule counts them, saying which.
        per_unit = [b for b in behaviours if isinstance(b.points_rule, PerUnitRule)]
        by_amount = [b for b in behaviours if isinstance(b.points_rule, AmountBandRule)]
        if per_unit:
            self.fields["quantity"].help_text = _("Only for: %(names)s.") % {
                "names": ", ".join(local(b, "name") for b in per_unit)
            }
        else:
            del self.fields["quantity"]
        if by_amount:
            self.fields["amount"].help_text = _("Only for: %(names)s.") % {
                "names": ", ".join(local(b, "name") for b in by_amount)
            }
        else:
            del self.fields["amount"]

    def photos(self) -> list:
        return [
            self.cleaned_data.get(name) for name in ("photo_1", "photo_2", "photo_3") if self.cleaned_data.get(name)
        ]


@resident_required
def claim_list(request, resident):
    claims = claims_of_resident(resident=resident)
    page = Paginator(claims, CLAIMS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "citizenpoints/claims/list.html",
        {"page": page, "claimable": claimable_behaviours().exists(), "max_pending": MAX_PENDING},
    )


@resident_required
def claim_new(request, resident):
    behaviours = list(claimable_behaviours())
    form = ClaimForm(request.POST or None, request.FILES or None, behaviours=behaviours)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            claim = claim_file(
                resident=resident,
                behaviour_code=data["behaviour"],
                description=data["description"],
                occurred_at=data["occurred_at"],
                place=data["place"],
                quantity=data.get("quantity"),
                amount=data.get("amount"),
                photos=form.photos(),
            )
        except (ClaimError, EvidenceError) as error:
            field = ERROR_FIELDS.get(error.code)
            form.add_error(field if field in form.fields else None, error.message)
        else:
            messages.success(request, _("Thank you. Your claim is filed; a reviewer will look at it soon."))
            return redirect("claim_detail", pk=claim.pk)
    return render(
        request,
        "citizenpoints/claims/new.html",
        {"form": form, "behaviours": behaviours, "max_photos": MAX_PHOTOS},
    )


@resident_required
def claim_detail(request, resident, pk):
    claim = get_object_or_404(claims_of_resident(resident=resident), pk=pk)
    return render(request, "citizenpoints/claims/detail.html", {"claim": claim})


@login_required
def evidence_photo(request, pk):
    """The photo's JPEG, for the resident who sent it or for a reviewer or auditor; anyone else gets a 404 (the
    refusal is audited), so photo numbers tell nobody what exists."""
    photo = get_object_or_404(EvidencePhoto.objects.select_related("claim__resident", "appeal__resident"), pk=pk)
    try:
        content = photo_read(acting_user=request.user, photo=photo)
    except PermissionRefused as error:
        raise Http404(error.message) from error
    except ApplicationError as error:
        raise Http404(error.message) from error
    response = HttpResponse(content, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = f'inline; filename="evidence-{photo.pk}.jpg"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
