"""The signed-in resident's unread notices, for the header (one COUNT on the partial index of unread rows)."""

from django import template

from citizenpoints.services.notifications import notices_unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notices(context) -> int | None:
    """None for anyone without an inbox (visitors, staff, accounts that have not joined)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_office_staff:
        return None
    if hasattr(request, "unread_notices"):  # counted already by the view (the dashboard's one statement)
        return request.unread_notices
    return notices_unread_count(user=user)
