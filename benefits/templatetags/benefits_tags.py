from django import template
from django.utils.translation import get_language

register = template.Library()


@register.filter
def tr(obj, field: str) -> str:
    """`obj.<field>_zh` for a Chinese reader (when written), else `obj.<field>_en`: tiers and other bilingual rows."""
    english = getattr(obj, f"{field}_en", "")
    if (get_language() or "en").lower().startswith("zh"):
        return getattr(obj, f"{field}_zh", "") or english
    return english


@register.filter
def tier_name(tier) -> str:
    """A tier as people read it: "AA Excellent" for grades, "Very good" for bands."""
    if tier is None:
        return ""
    name = tr(tier, "name")
    return f"{tier.label} {name}" if tier.label else name


@register.simple_tag(takes_context=True)
def tier_benefits(context, tier) -> list:
    """What `tier` adds (benefits whose minimum it is), for pages outside this app such as the public tier page:
    `{% load benefits_tags %}{% tier_benefits band.tier as unlocked %}`. One query per page, however many tiers."""
    from benefits.selectors import benefits_public

    cache = context.render_context
    if "benefits_public" not in cache:
        cache["benefits_public"] = list(benefits_public())
    return [benefit for benefit in cache["benefits_public"] if benefit.min_tier_id == tier.pk]
