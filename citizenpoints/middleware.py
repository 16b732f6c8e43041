from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

# Paths a staff member must reach to set up two-factor authentication (or to leave).
MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/healthz")


class StaffMFARequiredMiddleware:
    """Credit office staff use the site only after enrolling an authenticator app.

    allauth asks enrolled users for a code at every login; this closes the gap of a staff account that never
    enrolled. allauth ships no such hook, hence the middleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            settings.CITYPOINTS_STAFF_MFA_REQUIRED
            and user.is_authenticated
            and not request.path.startswith(MFA_EXEMPT_PREFIXES)
            and user.is_office_staff
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            messages.warning(
                request,
                _("Staff accounts must use two-factor authentication. Please set up an authenticator app."),
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


class AuditContextMiddleware:
    """Hand the client's address to audit_record without passing requests into services.

    Uses allauth's resolution of the client IP, which honours ALLAUTH_TRUSTED_PROXY_COUNT (X-Forwarded-For is
    only believed from proxies we run)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from allauth.core.internal.httpkit import get_client_ip

        from citizenpoints.services.audit import request_ip

        try:
            address = get_client_ip(request)
        except Exception:  # a malformed header must not break the request; the row just has no IP
            address = None
        token = request_ip.set(address)
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)
