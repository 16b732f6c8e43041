"""The product's URLs plus `/bench/bare`, the baseline the dashboard's requests/s is compared to.

`/bench/signed-in` is the floor of any signed-in page: base.html alone, for the signed-in resident.

The bare view goes through the same middleware but touches no database: requested without a session cookie, the
user is anonymous and nothing is loaded. It exists only in the benchmark; the product has no such endpoint.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path

from citizenpoints.urls import urlpatterns as product_urlpatterns


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


@login_required
def signed_in(request):
    """The floor of any resident's page: the same middleware and the site's chrome (base.html: header with the
    inbox count, navigation, sign-out and language forms), signed in, with an empty body."""
    return render(request, "base.html")


urlpatterns = [path("bench/bare", bare), path("bench/signed-in", signed_in), *product_urlpatterns]
