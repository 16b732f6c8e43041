"""The resident's inbox; the same notices go by email in the resident's language (services.notifications)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """One notice. `params` holds the facts (numbers, codes, ids), not text: it is worded when shown or mailed, in
    the language the resident reads then."""

    class Kind(models.TextChoices):
        POINTS_DIGEST = "points_digest", _("Points received")
        TIER_CHANGED = "tier_changed", _("Tier changed")
        BADGE_EARNED = "badge_earned", _("Badge earned")
        CLAIM_DECIDED = "claim_decided", _("Claim decided")
        APPEAL_RECEIVED = "appeal_received", _("Appeal received")
        APPEAL_DECIDED = "appeal_decided", _("Appeal decided")
        ENTRY_REVERSED = "entry_reversed", _("Points taken back")

    resident = models.ForeignKey(
        "citizenpoints.Resident",
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("resident"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    params = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # POINTS_DIGEST: the local day it sums up, so a re-run of the nightly digest adds nothing.
    digest_date = models.DateField(_("day summarised"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "digest_date"],
                condition=Q(kind="points_digest"),
                name="notification_one_digest_per_day",
            ),
            models.CheckConstraint(
                condition=Q(kind="points_digest", digest_date__isnull=False) | ~Q(kind="points_digest"),
                name="notification_digest_has_date",
            ),
        ]
        indexes = [
            models.Index(fields=["resident", "-created_at"], name="notification_inbox"),
            models.Index(fields=["resident"], condition=Q(read_at__isnull=True), name="notification_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for resident {self.resident_id}"
