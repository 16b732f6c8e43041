"""Claims: a resident asks for points for a behaviour that needs evidence; a reviewer approves or rejects it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Claim(models.Model):
    """What the resident did, when and where, with up to three photos; an approval awards through `award_grant`."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Not approved")

    resident = models.ForeignKey(
        "citizenpoints.Resident", on_delete=models.PROTECT, related_name="claims", verbose_name=_("resident")
    )
    # The behaviour as published when the claim was filed; approval awards the same code under the catalogue then
    # published (award_grant's one rule), so a claim filed before a new version is judged by the current rules.
    behaviour = models.ForeignKey(
        "citizenpoints.Behaviour", on_delete=models.PROTECT, related_name="+", verbose_name=_("behaviour")
    )
    description = models.TextField(_("what you did"), max_length=2000)
    occurred_at = models.DateTimeField(_("when"))
    place = models.CharField(_("where"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    filed_at = models.DateTimeField(_("filed at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    ledger_entry = models.OneToOneField(
        "citizenpoints.LedgerEntry",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="claim",
        verbose_name=_("points awarded"),
    )

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True, decided_by__isnull=True)
                | Q(status="approved", decided_at__isnull=False)
                | Q(status="rejected", decided_at__isnull=False) & ~Q(decision_reason=""),
                name="claim_decided_with_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "filed_at"], name="claim_queue"),
            models.Index(fields=["resident", "-filed_at"], name="claim_resident"),
        ]

    def __str__(self) -> str:
        return f"claim {self.pk} ({self.status})"


class EvidencePhoto(models.Model):
    """A photo attached to a claim or an appeal, re-encoded by Pillow without metadata, kept in private storage."""

    claim = models.ForeignKey(
        Claim, on_delete=models.CASCADE, null=True, blank=True, related_name="photos", verbose_name=_("claim")
    )
    appeal = models.ForeignKey(
        "citizenpoints.Appeal",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="photos",
        verbose_name=_("appeal"),
    )
    file_name = models.CharField(_("file name in private storage"), max_length=200)
    width = models.PositiveIntegerField(_("width in pixels"))
    height = models.PositiveIntegerField(_("height in pixels"))
    size = models.PositiveIntegerField(_("size in bytes"))
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("evidence photo")
        verbose_name_plural = _("evidence photos")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(claim__isnull=False, appeal__isnull=True) | Q(claim__isnull=True, appeal__isnull=False),
                name="evidence_for_one_claim_or_appeal",
            ),
        ]

    def __str__(self) -> str:
        return self.file_name
