from allauth.account.adapter import DefaultAccountAdapter

from citizenpoints.i18n import set_language_cookie
from citizenpoints.selectors import resident_for_user


class AccountAdapter(DefaultAccountAdapter):
    def post_login(self, request, user, **kwargs):
        """Serve a returning resident in the language they chose, on any device."""
        response = super().post_login(request, user, **kwargs)
        resident = resident_for_user(user=user)
        if resident is not None:
            set_language_cookie(response, resident.language)
        return response
