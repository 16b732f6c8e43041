from django import template
from django.utils.translation import gettext as _

from citizenpoints.services.access import role_label

register = template.Library()


@register.filter
def role_labels(roles) -> str:
    """Office role codes as the resident reads them: "Reviewer, Auditor"."""
    labels = [role_label(role) for role in roles or []]
    return _(", ").join(labels) if labels else _("Credit office staff")
