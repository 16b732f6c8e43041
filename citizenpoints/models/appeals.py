"""Appeals with working-day deadlines, and the office calendar those deadlines count on."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    """A date that breaks the weekday rule: a public holiday on a weekday, or a weekend made a working day.

    China moves working days around its holidays (调休), so both directions are needed; without a row, Monday to
    Friday are working days and Saturday and Sunday are not.
    """

    date = models.DateField(_("date"), unique=True)
    is_working_day = models.BooleanField(_("the office works this day"), default=False)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name_en}"


class Appeal(models.Model):
    """A resident asks the office to look again; acknowledged at once with a deadline, decided with reasons.

    A grant corrects the ledger in the decision's transaction: an award for missing points or a rejected claim, a
    reversal of a wrong record, or (for a reversal appealed) the reversed points awarded back.
    """

    class Subject(models.TextChoices):
        MISSING_POINTS = "missing", _("Points I should have received")
        ENTRY = "entry", _("A record that is wrong")
        CLAIM = "claim", _("A claim that was not approved")
        REVERSAL = "reversal", _("Points that were taken back")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        IN_REVIEW = "in_review", _("Being reviewed")
        GRANTED = "granted", _("Granted")
        REFUSED = "refused", _("Not granted")

    OPEN = (Status.RECEIVED, Status.IN_REVIEW)

    resident = models.ForeignKey(
        "citizenpoints.Resident", on_delete=models.PROTECT, related_name="appeals", verbose_name=_("resident")
    )
    subject = models.CharField(_("about"), max_length=10, choices=Subject.choices)
    entry = models.ForeignKey(  # ENTRY and REVERSAL: the record appealed (the reversal itself for REVERSAL)
        "citizenpoints.LedgerEntry",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="appeals",
        verbose_name=_("record"),
    )
    claim = models.ForeignKey(
        "citizenpoints.Claim",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="appeals",
        verbose_name=_("claim"),
    )
    # MISSING_POINTS: what the resident says happened, enough for the reviewer to award it.
    behaviour = models.ForeignKey(
        "citizenpoints.Behaviour",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("behaviour"),
    )
    occurred_at = models.DateTimeField(_("when it happened"), null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    statement = models.TextField(_("your statement"), max_length=4000)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    filed_at = models.DateTimeField(_("received at"), default=timezone.now)
    due_on = models.DateField(_("decision due by"))
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    review_started_at = models.DateTimeField(_("review started at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decision_reason = models.TextField(_("reasons for the decision"), blank=True)
    correction = models.OneToOneField(
        "citizenpoints.LedgerEntry",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="correcting_appeal",
        verbose_name=_("correction in the ledger"),
    )

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(subject="missing", behaviour__isnull=False, occurred_at__isnull=False)
                | Q(subject__in=["entry", "reversal"], entry__isnull=False)
                | Q(subject="claim", claim__isnull=False)
                # After retention or leaving, the appealed row may be gone; a decided appeal keeps its record.
                | Q(status__in=["granted", "refused"]),
                name="appeal_names_its_subject",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["received", "in_review"], decided_at__isnull=True)
                | Q(status__in=["granted", "refused"], decided_at__isnull=False) & ~Q(decision_reason=""),
                name="appeal_decided_with_reasons",
            ),
            # One open appeal per record or claim: a second would race the first's correction.
            models.UniqueConstraint(
                fields=["entry"], condition=Q(status__in=["received", "in_review"]), name="appeal_one_open_per_entry"
            ),
            models.UniqueConstraint(
                fields=["claim"], condition=Q(status__in=["received", "in_review"]), name="appeal_one_open_per_claim"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="appeal_queue"),
            models.Index(fields=["resident", "-filed_at"], name="appeal_resident"),
        ]

    def __str__(self) -> str:
        return f"appeal {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN
