import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportRequest(models.Model):
    """A resident's request for everything held about them, built into a zip by a Celery task.

    The file lives in the private storage (settings.STORAGES["private"], never under MEDIA_URL), is downloadable by
    its owner only, and is deleted with this row's file name blanked when it expires (services.exports).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Being prepared")
        READY = "ready", _("Ready to download")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired and deleted")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    resident = models.ForeignKey(
        "citizenpoints.Resident",
        on_delete=models.CASCADE,
        related_name="export_requests",
        verbose_name=_("resident"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("downloadable until"), null=True, blank=True)
    file_name = models.CharField(_("file name in private storage"), max_length=200, blank=True)
    size = models.PositiveBigIntegerField(_("size in bytes"), null=True, blank=True)

    class Meta:
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="export_expiry")]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"

    def is_downloadable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == self.Status.READY and bool(self.file_name) and self.expires_at > now
