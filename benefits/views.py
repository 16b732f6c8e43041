"""Resident benefit pages and the merchant's counter screens. Each view parses, calls one service or selector,
renders."""

import csv
import datetime
import secrets
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from benefits import conf
from benefits.exceptions import RedemptionError, resident_message
from benefits.forms import ConfirmForm, ScanForm
from benefits.models import Benefit
from benefits.selectors import (
    benefit_detail,
    benefit_refusal,
    benefits_by_tier,
    honoured_at,
    merchant_redemptions,
    merchant_totals,
    resident_benefits,
    resident_redemptions,
)
from benefits.services.redemptions import redemption_confirm, redemption_verify, staff_for
from benefits.services.tokens import qr_data_uri, token_issue
from citizenpoints.selectors import resident_for_user
from citizenpoints.services.scoring import local_zone

HISTORY_PAGE_SIZE = 50


# --- Residents and the public.
def catalogue(request):
    """What each tier unlocks; for a resident, what theirs unlocks now and what the next would add."""
    resident = resident_for_user(user=request.user)
    context = {"catalogue": benefits_by_tier(), "mine": resident_benefits(resident=resident) if resident else None}
    return render(request, "benefits/catalogue.html", context)


def detail(request, pk: int):
    try:
        benefit = benefit_detail(pk=pk)
    except Benefit.DoesNotExist as missing:
        raise Http404 from missing
    resident = resident_for_user(user=request.user)
    refusal = benefit_refusal(resident=resident, benefit=benefit) if resident else None
    if not resident and not (benefit.is_active and benefit.merchant.is_active):
        raise Http404
    context = {
        "benefit": benefit,
        "locations": honoured_at(benefit),
        "resident": resident,
        "refusal": resident_message(refusal[0], refusal[1]) if refusal else None,
    }
    return render(request, "benefits/detail.html", context)


@login_required
def use(request, pk: int):
    """The resident's QR for one benefit: a fresh code now, refreshed on screen by use.js while it stays open."""
    resident = resident_for_user(user=request.user)
    if resident is None:
        return redirect("join")
    try:
        benefit = benefit_detail(pk=pk)
    except Benefit.DoesNotExist as missing:
        raise Http404 from missing
    try:
        issued = token_issue(resident=resident, benefit=benefit)
    except RedemptionError as error:
        return render(request, "benefits/use.html", {"benefit": benefit, "error": error.message}, status=409)
    context = {
        "benefit": benefit,
        "issued": issued,
        "qr": qr_data_uri(issued.payload),
        "refresh_seconds": conf.token_refresh_seconds(),
    }
    return render(request, "benefits/use.html", context)


@login_required
def history(request):
    resident = resident_for_user(user=request.user)
    if resident is None:
        return redirect("join")
    page = Paginator(resident_redemptions(resident=resident), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "benefits/history.html", {"page": page})


# --- The merchant's counter.
def merchant_staff_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            request.staff = staff_for(request.user)
        except RedemptionError as error:
            return render(request, "benefits/merchant/not_staff.html", {"message": error.message}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


@merchant_staff_required
def scan(request):
    return render(request, "benefits/merchant/scan.html", {"form": ScanForm(), "staff": request.staff})


@require_POST
@merchant_staff_required
def verify(request):
    form = ScanForm(request.POST)
    if not form.is_valid():
        return render(request, "benefits/merchant/scan.html", {"form": form, "staff": request.staff}, status=400)
    try:
        result = redemption_verify(acting_user=request.user, text=form.cleaned_data["code"])
    except RedemptionError as error:
        context = {"form": ScanForm(), "staff": request.staff, "refusal": error}
        return render(request, "benefits/merchant/scan.html", context, status=409)
    confirm_form = ConfirmForm(initial={"code": result.code, "nonce": secrets.token_urlsafe(16)})
    return render(request, "benefits/merchant/verify.html", {"scan": result, "form": confirm_form})


@require_POST
@merchant_staff_required
def confirm(request):
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return redirect("benefits:counter")
    try:
        redemption = redemption_confirm(
            acting_user=request.user, text=form.cleaned_data["code"], nonce=form.cleaned_data["nonce"]
        )
    except RedemptionError as error:
        context = {"form": ScanForm(), "staff": request.staff, "refusal": error}
        return render(request, "benefits/merchant/scan.html", context, status=409)
    return render(request, "benefits/merchant/done.html", {"redemption": redemption, "form": ScanForm()})


@merchant_staff_required
def merchant_history(request):
    merchant = request.staff.merchant
    page = Paginator(merchant_redemptions(merchant=merchant), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"merchant": merchant, "totals": merchant_totals(merchant=merchant), "page": page}
    return render(request, "benefits/merchant/history.html", context)


@merchant_staff_required
def merchant_history_csv(request):
    """This month's redemptions (or ?month=YYYY-MM) as CSV: time, benefit, location, tier, initial, staff."""
    zone = local_zone()
    try:
        month = datetime.datetime.strptime(request.GET.get("month", ""), "%Y-%m").date()
    except ValueError:
        month = timezone.now().astimezone(zone).date().replace(day=1)
    start = datetime.datetime.combine(month, datetime.time.min, tzinfo=zone)
    end_day = datetime.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    end = datetime.datetime.combine(end_day, datetime.time.min, tzinfo=zone)
    merchant = request.staff.merchant
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="redemptions-{merchant.slug}-{month:%Y-%m}.csv"'
    response.write("\ufeff")  # so spreadsheet programs read the Chinese titles as UTF-8
    writer = csv.writer(response)
    writer.writerow(
        [_("Redeemed at"), _("Benefit"), _("Benefit (Chinese)"), _("Location"), _("Tier"), _("Resident"), _("Staff")]
    )
    for redemption in merchant_redemptions(merchant=merchant, since=start, until=end).iterator(chunk_size=2000):
        writer.writerow(
            [
                redemption.redeemed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                redemption.benefit.title_en,
                redemption.benefit.title_zh,
                redemption.location.name_en if redemption.location else "",
                redemption.tier.name_en,
                redemption.resident.initial + ".",
                redemption.staff.user.email,
            ]
        )
    return response
