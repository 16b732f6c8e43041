"""The resident's own pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.forms import JoinForm
from citizenpoints.i18n import set_language_cookie
from citizenpoints.selectors import resident_for_user
from citizenpoints.services.residents import current_terms_version, resident_join


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


@login_required
def home(request):
    resident = resident_for_user(user=request.user)
    if resident is None:
        if request.user.is_office_staff:
            return render(request, "citizenpoints/staff_home.html")
        return redirect("join")
    consents = resident.consents.all()
    return render(request, "citizenpoints/home.html", {"resident": resident, "consents": consents})
