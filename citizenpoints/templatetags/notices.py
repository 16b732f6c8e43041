"""The signed-in resident's unread notices, for the header.

Usually no query: the count was read with the user row at the start of the request (`citizenpoints.auth_backends`).
A request that may have written (any method but GET and HEAD) counts again, so a page it renders never shows the
count from before its own change.
"""

from django import template

from citizenpoints.auth_backends import account_facts
from citizenpoints.services.notifications import notices_unread_count

register = template.Library()

READ_ONLY_METHODS = ("GET", "HEAD")


@register.simple_tag(takes_context=True)
def unread_notices(context) -> int | None:
    """None for anyone without an inbox (visitors, staff, accounts that have not joined)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_office_staff:
        return None
    facts = account_facts(user)
    if facts is not None and request.method in READ_ONLY_METHODS:
        return facts.unread_notices
    return notices_unread_count(user=user)
