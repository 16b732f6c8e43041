"""Benefits' answers to the points domain's signals (it never imports benefits)."""

from django.urls import reverse

from benefits.models import MerchantStaff


def load_demo(sender, *, partner_manager, **kwargs) -> None:
    from benefits.demo import benefits_demo_load

    benefits_demo_load(acting_user=partner_manager)


def partner_home(sender, *, user, **kwargs) -> str | None:
    """Partner staff sign in to the counter, not to the programme's join page."""
    if MerchantStaff.objects.filter(user=user).exists():
        return reverse("benefits:counter")
    return None
