from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Resident(models.Model):
    """A person who has joined the programme. Accounts that have not joined have no Resident and earn nothing.

    When a resident leaves, the row stays as an anonymous subject (no account, no name, `left_at` set) so the ledger
    rows that point at it, and the hash chain over them, stay intact; see services.leaving.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resident",
        verbose_name=_("account"),
        help_text=_("Empty once the resident has left the programme."),
    )
    given_name = models.CharField(
        _("given name"),
        max_length=60,
        blank=True,
        help_text=_("Shown to partner staff only as an initial when a benefit is redeemed. Erased on leaving."),
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="en")
    email_notices = models.BooleanField(
        _("email me my notices"),
        default=True,
        help_text=_("Points are summed up in one email a day at most; everything is also in your inbox."),
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    terms_version = models.CharField(_("terms version accepted"), max_length=20)
    left_at = models.DateTimeField(
        _("left the programme at"),
        null=True,
        blank=True,
        help_text=_("Set when the resident left: their personal data is erased and nothing new is recorded."),
    )

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")

    def __str__(self) -> str:
        if self.left_at is not None:
            return f"former resident {self.pk}"
        return f"{self.given_name} ({self.user_id})"

    @property
    def has_left(self) -> bool:
        return self.left_at is not None

    @property
    def initial(self) -> str:
        return self.given_name[:1].upper()


class ConsentRecord(models.Model):
    """Each version of the terms a resident accepted, and when. Never edited."""

    resident = models.ForeignKey(
        Resident, on_delete=models.CASCADE, related_name="consents", verbose_name=_("resident")
    )
    terms_version = models.CharField(_("terms version"), max_length=20)
    accepted_at = models.DateTimeField(_("accepted at"), default=timezone.now)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["resident", "terms_version"], name="consent_once_per_terms_version"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} accepted {self.terms_version}"
