"""The resident's own pages."""

import datetime
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from citizenpoints.dashboard_cache import dashboard_body, dashboard_state
from citizenpoints.exceptions import ApplicationError
from citizenpoints.forms import JoinForm, NoticesForm
from citizenpoints.i18n import set_language_cookie
from citizenpoints.models import Resident
from citizenpoints.selectors import (
    HistoryPosition,
    history_filter_options,
    resident_dashboard,
    resident_for_user,
    resident_history_page,
    scoring_window_start,
)
from citizenpoints.services.notifications import resident_email_notices_set
from citizenpoints.services.residents import current_terms_version, resident_join
from citizenpoints.signals import home_requested
from citizenpoints.templatetags.points import local

HISTORY_PAGE_SIZE = 25


@login_required
def join(request):
    if resident_for_user(user=request.user) is not None:
        return redirect("home")
    language = (get_language() or "en").lower()
    form = JoinForm(request.POST or None, initial={"terms_version": current_terms_version(), "language": language})
    if request.method == "POST" and form.is_valid():
        try:
            resident_join(
                user=request.user,
                given_name=form.cleaned_data["given_name"],
                language=form.cleaned_data["language"],
                accepted_terms_version=form.cleaned_data["terms_version"] if form.cleaned_data["consent"] else None,
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Welcome to CityPoints. You have joined the programme."))
            response = redirect("home")
            set_language_cookie(response, form.cleaned_data["language"])
            return response
    return render(request, "citizenpoints/join.html", {"form": form, "terms_version": current_terms_version()})


def resident_required(view):
    """Signed in and joined: the view gets the resident. Others are sent to join; office staff to their own page."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        resident = resident_for_user(user=request.user)
        if resident is None:
            return redirect("home" if request.user.is_office_staff else "join")
        return view(request, resident, *args, **kwargs)

    return wrapper


@login_required
def home(request):
    state = dashboard_state(user=request.user)
    if state is None:
        if request.user.is_office_staff:
            from citizenpoints.office.home_views import office_home  # the console's front page, at /me/ too

            return office_home(request)
        for _receiver, url in home_requested.send(sender=None, user=request.user):
            if url:
                return redirect(url)
        return redirect("join")

    def render_body() -> str:  # only when the cache has no body for the resident's current state
        dashboard = resident_dashboard(resident=Resident.objects.get(pk=state.resident_id))
        return render_to_string("citizenpoints/includes/dashboard_body.html", {"dashboard": dashboard})

    body = dashboard_body(state, render_body)
    return render(request, "citizenpoints/home.html", {"dashboard_body": mark_safe(body)})  # noqa: S308 (our HTML)


@resident_required
def profile(request, resident):
    # An unticked box posts nothing: bind on the method, not on the data.
    data = request.POST if request.method == "POST" else None
    notices_form = NoticesForm(data, initial={"email_notices": resident.email_notices})
    if request.method == "POST" and notices_form.is_valid():
        resident_email_notices_set(resident=resident, email_notices=notices_form.cleaned_data["email_notices"])
        if resident.email_notices:
            messages.success(request, _("Your notices will come by email too."))
        else:
            messages.success(request, _("Your notices will stay in your inbox only; no more email."))
        return redirect("profile")
    consents = resident.consents.all()
    context = {"resident": resident, "consents": consents, "notices_form": notices_form}
    return render(request, "citizenpoints/profile.html", context)


class HistoryFilterForm(forms.Form):
    """The history's filters, read from the query string; choices come from `history_filter_options`."""

    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    month = forms.ChoiceField(label=gettext_lazy("Month"), required=False)

    def __init__(self, data, *, options):
        super().__init__(data)
        self.fields["category"].choices = [("", _("All categories"))] + [
            (category.code, local(category, "name")) for category in options.categories
        ]
        self.fields["month"].choices = [("", _("All months"))] + [
            (month.strftime("%Y-%m"), date_format(month, "YEAR_MONTH_FORMAT")) for month in options.months
        ]

    def clean_month(self) -> datetime.date | None:
        value = self.cleaned_data["month"]
        return datetime.datetime.strptime(value, "%Y-%m").date() if value else None


@resident_required
def history(request, resident):
    form = HistoryFilterForm(request.GET, options=history_filter_options(resident=resident))
    # A tampered filter is dropped, with the field's error shown, rather than failing the page.
    form.is_valid()
    filters = form.cleaned_data
    # A tampered position only gives the newest page: it is a link's, not something the resident typed to correct.
    before = HistoryPosition.from_token(request.GET.get("before"))
    after = None if before else HistoryPosition.from_token(request.GET.get("after"))
    page = resident_history_page(
        resident=resident,
        category=filters.get("category") or None,
        month=filters.get("month"),
        before=before,
        after=after,
        size=HISTORY_PAGE_SIZE,
    )
    context = {
        "form": form,
        "filtered": bool(filters.get("category") or filters.get("month")),
        "page": page,
        "window_start": scoring_window_start(),
    }
    return render(request, "citizenpoints/history.html", context)
