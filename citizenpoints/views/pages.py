"""Public pages: the landing page, the terms, language switching, health."""

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from citizenpoints.selectors import resident_for_user
from citizenpoints.services.residents import current_terms_version, resident_set_language


def landing(request):
    return render(request, "citizenpoints/landing.html")


def terms(request, version: str | None = None):
    version = version or current_terms_version()
    try:
        get_template(f"citizenpoints/terms/{version}.html")
    except TemplateDoesNotExist as exc:
        raise Http404 from exc
    context = {"version": version, "is_current": version == current_terms_version()}
    return render(request, "citizenpoints/terms.html", context)


@require_POST
def language_switch(request):
    """Django's set_language, plus remembering the choice on a resident's profile for their messages."""
    response = set_language(request)
    language = request.POST.get("language")
    resident = resident_for_user(user=request.user)
    if resident is not None and language in dict(settings.LANGUAGES):
        resident_set_language(resident=resident, language=language)
    return response


def health(request):
    """For load balancers: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"}) if request.GET.get("format") == "json" else HttpResponse("ok")
