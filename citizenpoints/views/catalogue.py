"""Public pages, no login: the published catalogue and the active tier scheme with its badges."""

from django.shortcuts import render

from citizenpoints.selectors import catalogue_published, tiers_public


def catalogue(request):
    return render(request, "citizenpoints/catalogue/catalogue.html", {"catalogue": catalogue_published()})


def tiers(request):
    return render(request, "citizenpoints/catalogue/tiers.html", {"tiers": tiers_public()})
