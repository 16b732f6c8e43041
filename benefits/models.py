from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Merchant(models.Model):
    """A partner that honours CreditEase benefits at its counters."""

    name_en = models.CharField(_("name (English)"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120)
    slug = models.SlugField(_("short name"), unique=True)
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Paused partners redeem nothing."))

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")

    def __str__(self) -> str:
        return self.name_en


class MerchantStaff(models.Model):
    class Role(models.TextChoices):
        CASHIER = "cashier", _("Cashier")
        MANAGER = "manager", _("Manager")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="merchant_staff",
        verbose_name=_("account"),
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="staff", verbose_name=_("merchant"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.CASHIER)

    class Meta:
        verbose_name = _("merchant staff member")
        verbose_name_plural = _("merchant staff")

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant}"
