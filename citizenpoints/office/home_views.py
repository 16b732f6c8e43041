"""The office console's front page: for each role the staff member holds, the screens they can use and what waits
on each."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from citizenpoints.office.screens import ROLE_ORDER, held_roles, screens_count, screens_for
from citizenpoints.services.access import role_label


@login_required
def office_home(request):
    if not request.user.is_office_staff:
        return redirect("home")
    roles = held_roles(request.user)
    links = screens_count(screens_for(request.user, roles=roles))
    request.office_screens = links  # the navigation bar reuses them (citizenpoints/templatetags/office.py)
    sections = [
        {"role": role, "label": role_label(role), "screens": [link for link in links if link.role == role]}
        for role in ROLE_ORDER
        if role in roles
    ]
    context = {"sections": sections, "role_labels": [role_label(role) for role in ROLE_ORDER if role in roles]}
    return render(request, "citizenpoints/staff_home.html", context)
