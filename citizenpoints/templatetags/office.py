"""The office console's navigation: the screens the signed-in staff member may open."""

from django import template

from citizenpoints.office.screens import screens_for

register = template.Library()


@register.simple_tag(takes_context=True)
def office_screens(context) -> list:
    """`{% office_screens as screens %}`: computed once per request (the front page hands over its own)."""
    request = context.get("request")
    if request is None:
        return []
    if getattr(request, "office_screens", None) is None:
        request.office_screens = screens_for(request.user)
    for screen in request.office_screens:
        screen.current = "page" if request.path == screen.url else "true" if request.path.startswith(screen.url) else ""
    return request.office_screens
