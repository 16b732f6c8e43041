from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TierScheme(models.Model):
    """Ordered bands over the score. Exactly one scheme is active; score = its base + points in the window."""

    code = models.SlugField(_("code"), unique=True)
    name_en = models.CharField(_("name (English)"), max_length=80)
    name_zh = models.CharField(_("name (Chinese)"), max_length=80)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    base_score = models.PositiveIntegerField(_("base score"), help_text=_("Every resident's score starts here."))
    is_active = models.BooleanField(_("active"), default=False)

    class Meta:
        verbose_name = _("tier scheme")
        verbose_name_plural = _("tier schemes")
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_tier_scheme")
        ]

    def __str__(self) -> str:
        return self.name_en


class Tier(models.Model):
    scheme = models.ForeignKey(TierScheme, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("scheme"))
    code = models.SlugField(_("code"))
    label = models.CharField(_("short label"), max_length=8, blank=True, help_text=_("For grades, e.g. AAA."))
    name_en = models.CharField(_("name (English)"), max_length=80)
    name_zh = models.CharField(_("name (Chinese)"), max_length=80)
    min_score = models.PositiveIntegerField(_("from score"))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["scheme", "min_score"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], name="tier_code_unique_in_scheme"),
            models.UniqueConstraint(fields=["scheme", "min_score"], name="tier_threshold_unique_in_scheme"),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.name_en}".strip()


class TierChange(models.Model):
    class Cause(models.TextChoices):
        JOINED = "joined", _("Joined the programme")
        POINTS = "points", _("Points earned")
        REVERSAL = "reversal", _("A record was corrected")
        AGEING = "ageing", _("Points left the 12-month window")
        SCHEME = "scheme", _("The city changed its tier scheme")

    resident = models.ForeignKey(
        "citizenpoints.Resident", on_delete=models.CASCADE, related_name="tier_changes", verbose_name=_("resident")
    )
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("from tier")
    )
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", verbose_name=_("to tier"))
    cause = models.CharField(_("cause"), max_length=12, choices=Cause.choices)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["resident", "-changed_at"], name="tierchange_resident")]

    def __str__(self) -> str:
        return f"{self.resident_id}: {self.from_tier_id} → {self.to_tier_id}"
