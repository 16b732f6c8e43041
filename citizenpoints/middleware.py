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
