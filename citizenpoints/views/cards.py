"""The resident links their citizen card, so departments' records reach them. The number itself is never kept."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.forms import CardLinkForm
from citizenpoints.selectors import resident_for_user
from citizenpoints.services.ingest import card_link


@login_required
def card(request):
    resident = resident_for_user(user=request.user)
    if resident is None:
        return redirect("join")
    form = CardLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            card_link(resident=resident, card_number=form.cleaned_data["card_number"])
        except ApplicationError as error:
            form.add_error("card_number", error.message)
        else:
            messages.success(request, _("Your card is linked. Records from city departments will now reach you."))
            return redirect("card")
    links = resident.card_links.order_by("linked_at")
    return render(request, "citizenpoints/card.html", {"form": form, "links": links})
