from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Badge(models.Model):
    """A rule over a resident's entries: `threshold` records (or points) in these categories within `period_days`."""

    class Metric(models.TextChoices):
        COUNT = "count", _("Number of records")
        POINTS = "points", _("Points")

    code = models.SlugField(_("code"), unique=True)
    name_en = models.CharField(_("name (English)"), max_length=80)
    name_zh = models.CharField(_("name (Chinese)"), max_length=80)
    description_en = models.TextField(_("description (English)"))
    description_zh = models.TextField(_("description (Chinese)"))
    emoji = models.CharField(_("symbol"), max_length=8, blank=True)
    categories = models.ManyToManyField("citizenpoints.Category", related_name="badges", verbose_name=_("categories"))
    metric = models.CharField(_("measured by"), max_length=10, choices=Metric.choices, default=Metric.COUNT)
    threshold = models.PositiveIntegerField(_("threshold"))
    period_days = models.PositiveIntegerField(_("within days"), default=365)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("badge")
        verbose_name_plural = _("badges")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gt=0), name="badge_threshold_positive"),
            models.CheckConstraint(condition=Q(period_days__gt=0), name="badge_period_positive"),
        ]

    def __str__(self) -> str:
        return self.name_en


class ResidentBadge(models.Model):
    resident = models.ForeignKey(
        "citizenpoints.Resident", on_delete=models.CASCADE, related_name="badges", verbose_name=_("resident")
    )
    badge = models.ForeignKey(Badge, on_delete=models.PROTECT, related_name="holders", verbose_name=_("badge"))
    awarded_at = models.DateTimeField(_("awarded at"), default=timezone.now)

    class Meta:
        verbose_name = _("resident badge")
        verbose_name_plural = _("resident badges")
        constraints = [models.UniqueConstraint(fields=["resident", "badge"], name="badge_awarded_once")]

    def __str__(self) -> str:
        return f"{self.badge_id} for {self.resident_id}"
