"""The product's URLs plus `/bench/bare`, the baseline the dashboard's requests/s is compared to.

The bare view goes through the same middleware but touches no database: requested without a session cookie, the
user is anonymous and nothing is loaded. It exists only in the benchmark; the product has no such endpoint.
"""

from django.http import HttpResponse
from django.urls import path

from citizenpoints.urls import urlpatterns as product_urlpatterns


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare", bare), *product_urlpatterns]
