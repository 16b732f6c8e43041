"""The partner manager's screens: partners (onboard, edit, pause, locations, staff) and their benefits (create, edit,
pause, quota, minimum tier). Each view parses a form, calls one service, and shows its refusal in plain words."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from benefits.models import Benefit, Merchant
from benefits.office.forms import (
    BenefitFilterForm,
    BenefitForm,
    LocationForm,
    MerchantFilterForm,
    MerchantForm,
    MinTierForm,
    QuotaForm,
    ReasonForm,
    StaffInviteForm,
)
from benefits.office.selectors import (
    active_scheme,
    benefit_for_office,
    benefits_needing_tier,
    benefits_office,
    merchant_for_office,
    merchants_overview,
)
from benefits.services.benefits import (
    benefit_create,
    benefit_pause,
    benefit_resume,
    benefit_set_min_tier,
    benefit_set_quota,
    benefit_update,
)
from benefits.services.merchants import (
    location_add,
    merchant_onboard,
    merchant_pause,
    merchant_resume,
    merchant_set_logo,
    merchant_update,
    staff_invite,
)
from benefits.templatetags.benefits_tags import tr
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import OfficeRole
from citizenpoints.office.access import office_role_required

partner_manager_required = office_role_required(OfficeRole.PARTNER_MANAGER)
LOGO_CODES = {"not_an_image", "image_too_large"}
PAGE_SIZE = 50


def _merchant(slug: str) -> Merchant:
    try:
        return merchant_for_office(slug=slug)
    except Merchant.DoesNotExist as missing:
        raise Http404 from missing


def _benefit(pk: int) -> Benefit:
    try:
        return benefit_for_office(pk=pk)
    except Benefit.DoesNotExist as missing:
        raise Http404 from missing


def _retired_tier_reason() -> str:
    scheme = active_scheme()
    if scheme is None:
        return ""
    return _("The city switched to the “%(scheme)s” tier scheme.") % {"scheme": tr(scheme, "name")}


# --- Partners.
@partner_manager_required
def merchants(request):
    form = MerchantFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    context = {
        "form": form,
        "merchants": merchants_overview(status=status),
        "needs_tier": benefits_needing_tier().count(),
    }
    return render(request, "benefits/office/merchants.html", context)


@partner_manager_required
def merchant_new(request):
    form = MerchantForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            merchant = merchant_onboard(
                acting_user=request.user,
                slug=form.new_slug(),
                logo=form.cleaned_data["logo_upload"] or None,
                **form.details(),
            )
        except ApplicationError as error:
            form.add_error("logo_upload" if error.code in LOGO_CODES else None, error.message)
        else:
            messages.success(
                request, _("%(name)s is onboarded. Add its locations and staff.") % {"name": merchant.name}
            )
            return redirect("benefits:office-merchant", slug=merchant.slug)
    return render(request, "benefits/office/merchant_form.html", {"form": form}, status=400 if form.errors else 200)


def _merchant_page(request, merchant: Merchant, status: int = 200, **forms):
    context = {
        "merchant": merchant,
        "benefits": benefits_office(merchant=merchant),
        "location_form": forms.get("location_form") or LocationForm(prefix="location"),
        "staff_form": forms.get("staff_form") or StaffInviteForm(merchant=merchant, prefix="staff"),
        "reason_form": forms.get("reason_form") or ReasonForm(prefix="status"),
    }
    return render(request, "benefits/office/merchant.html", context, status=status)


@partner_manager_required
def merchant_detail(request, slug):
    return _merchant_page(request, _merchant(slug))


@partner_manager_required
def merchant_edit(request, slug):
    merchant = _merchant(slug)
    form = MerchantForm(request.POST or None, request.FILES or None, instance=merchant)
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["logo_upload"]:
                merchant_set_logo(acting_user=request.user, merchant=merchant, upload=form.cleaned_data["logo_upload"])
            merchant = merchant_update(acting_user=request.user, merchant=merchant, **form.details())
        except ApplicationError as error:
            form.add_error("logo_upload" if error.code in LOGO_CODES else None, error.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("benefits:office-merchant", slug=merchant.slug)
    context = {"form": form, "merchant": merchant}
    return render(request, "benefits/office/merchant_form.html", context, status=400 if form.errors else 200)


def _merchant_status(request, slug, service, done: str):
    merchant = _merchant(slug)
    form = ReasonForm(request.POST, prefix="status")
    if not form.is_valid():
        return _merchant_page(request, merchant, status=400, reason_form=form)
    try:
        service(acting_user=request.user, merchant=merchant, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done % {"name": merchant.name})
    return redirect("benefits:office-merchant", slug=slug)


@require_POST
@partner_manager_required
def merchant_pause_view(request, slug):
    return _merchant_status(
        request, slug, merchant_pause, _("%(name)s is paused: none of its benefits can be used until you resume it.")
    )


@require_POST
@partner_manager_required
def merchant_resume_view(request, slug):
    return _merchant_status(request, slug, merchant_resume, _("%(name)s is active again."))


@require_POST
@partner_manager_required
def location_new(request, slug):
    merchant = _merchant(slug)
    form = LocationForm(request.POST, prefix="location")
    if form.is_valid():
        try:
            location = location_add(acting_user=request.user, merchant=merchant, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Location “%(name)s” added.") % {"name": location.name})
            return redirect("benefits:office-merchant", slug=slug)
    return _merchant_page(request, merchant, status=400, location_form=form)


@require_POST
@partner_manager_required
def staff_new(request, slug):
    merchant = _merchant(slug)
    form = StaffInviteForm(request.POST, merchant=merchant, prefix="staff")
    if form.is_valid():
        data = form.cleaned_data
        try:
            staff = staff_invite(
                acting_user=request.user,
                merchant=merchant,
                email=data["email"],
                role=data["role"],
                location=data["location"],
            )
        except ApplicationError as error:
            form.add_error(
                "email" if error.code in {"already_staff", "office_account", "bad_email"} else None, error.message
            )
        else:
            messages.success(
                request,
                _("%(email)s is now staff of %(name)s. We emailed them how to sign in.")
                % {"email": staff.user.email, "name": merchant.name},
            )
            return redirect("benefits:office-merchant", slug=slug)
    return _merchant_page(request, merchant, status=400, staff_form=form)


# --- Benefits.
@partner_manager_required
def benefits(request):
    form = BenefitFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    found = benefits_office(
        family=data.get("family", ""),
        status=data.get("status", ""),
        needs_tier=data.get("needs_tier", False),
        merchant=data.get("merchant"),
        text=(data.get("text") or "").strip(),
    )
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "needs_tier": benefits_needing_tier().count(),
        "scheme": active_scheme(),
    }
    return render(request, "benefits/office/benefits.html", context)


@partner_manager_required
def benefits_new_tier(request):
    """Benefits left on a retired tier scheme, each with a form to name a tier of the active one."""
    rows = [
        (benefit, MinTierForm(prefix=f"b{benefit.pk}", initial={"reason": _retired_tier_reason()}))
        for benefit in benefits_needing_tier()
    ]
    return render(request, "benefits/office/needs_tier.html", {"rows": rows, "scheme": active_scheme()})


@partner_manager_required
def benefit_new(request, slug):
    merchant = _merchant(slug)
    form = BenefitForm(request.POST or None, merchant=merchant)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            benefit = benefit_create(
                acting_user=request.user,
                merchant=merchant,
                family=data["family"],
                title_en=data["title_en"],
                title_zh=data["title_zh"],
                terms_en=data["terms_en"],
                terms_zh=data["terms_zh"],
                min_tier=data["min_tier"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
                quota=data["quota"],
                limit_count=data["limit_count"],
                limit_period=data["limit_period"],
                locations=list(data["locations"]),
                is_active=data["is_active"],
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Benefit “%(title)s” created.") % {"title": benefit.title})
            return redirect("benefits:office-benefit", pk=benefit.pk)
    context = {"form": form, "merchant": merchant}
    return render(request, "benefits/office/benefit_form.html", context, status=400 if form.errors else 200)


def _benefit_page(request, benefit: Benefit, status: int = 200, **forms):
    context = {
        "benefit": benefit,
        "needs_tier": not benefit.min_tier.scheme.is_active,
        "reason_form": forms.get("reason_form") or ReasonForm(prefix="status"),
        "quota_form": forms.get("quota_form") or QuotaForm(prefix="quota", initial={"quota": benefit.quota}),
        "tier_form": forms.get("tier_form")
        or MinTierForm(
            prefix="tier",
            initial={
                "min_tier": benefit.min_tier if benefit.min_tier.scheme.is_active else None,
                "reason": "" if benefit.min_tier.scheme.is_active else _retired_tier_reason(),
            },
        ),
    }
    return render(request, "benefits/office/benefit.html", context, status=status)


@partner_manager_required
def benefit_detail(request, pk):
    return _benefit_page(request, _benefit(pk))


@partner_manager_required
def benefit_edit(request, pk):
    benefit = _benefit(pk)
    form = BenefitForm(request.POST or None, instance=benefit, merchant=benefit.merchant, editing=True)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        locations = list(data.pop("locations"))
        try:
            benefit = benefit_update(acting_user=request.user, benefit=benefit, locations=locations, **data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("benefits:office-benefit", pk=benefit.pk)
    context = {"form": form, "merchant": benefit.merchant, "benefit": benefit}
    return render(request, "benefits/office/benefit_form.html", context, status=400 if form.errors else 200)


def _benefit_status(request, pk, service, done: str):
    benefit = _benefit(pk)
    form = ReasonForm(request.POST, prefix="status")
    if not form.is_valid():
        return _benefit_page(request, benefit, status=400, reason_form=form)
    try:
        service(acting_user=request.user, benefit=benefit, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done % {"title": benefit.title})
    return redirect("benefits:office-benefit", pk=pk)


@require_POST
@partner_manager_required
def benefit_pause_view(request, pk):
    return _benefit_status(
        request, pk, benefit_pause, _("“%(title)s” is paused: codes on residents' phones are refused at the counter.")
    )


@require_POST
@partner_manager_required
def benefit_resume_view(request, pk):
    return _benefit_status(request, pk, benefit_resume, _("“%(title)s” is active again."))


@require_POST
@partner_manager_required
def benefit_quota_view(request, pk):
    benefit = _benefit(pk)
    form = QuotaForm(request.POST, prefix="quota")
    if form.is_valid():
        try:
            benefit_set_quota(
                acting_user=request.user,
                benefit=benefit,
                quota=form.cleaned_data["quota"],
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as error:
            form.add_error("quota" if error.code == "quota_below_used" else None, error.message)
        else:
            messages.success(request, _("Quota saved."))
            return redirect("benefits:office-benefit", pk=pk)
    return _benefit_page(request, benefit, status=400, quota_form=form)


@require_POST
@partner_manager_required
def benefit_min_tier_view(request, pk):
    """Also posted from the list of benefits needing a new tier (prefix b<pk>); `next` sends the officer back there."""
    benefit = _benefit(pk)
    prefix = request.POST.get("prefix", "tier")
    prefix = prefix if prefix in {"tier", f"b{pk}"} else "tier"
    form = MinTierForm(request.POST, prefix=prefix)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""
    if form.is_valid():
        try:
            benefit_set_min_tier(
                acting_user=request.user,
                benefit=benefit,
                min_tier=form.cleaned_data["min_tier"],
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("“%(title)s” now starts at a tier of the active scheme.") % {"title": benefit.title}
            )
            return redirect(back or "benefits:office-benefit", **({} if back else {"pk": pk}))
    if back:
        for error in form.errors.values():
            messages.error(request, f"{benefit.title}: {' '.join(error)}")
        return redirect(back)
    return _benefit_page(request, benefit, status=400, tier_form=form)
