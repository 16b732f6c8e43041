"""Records arriving from city departments: API keys, card links, batches and their per-record results."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A department's key. Only a SHA-256 of the secret is kept (the secret is random, so no slow hash is needed);
    `prefix` finds the row without revealing the secret. Several per source, so keys can rotate."""

    source = models.ForeignKey(
        "citizenpoints.DataSource", on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("data source")
    )
    label = models.CharField(_("label"), max_length=80)
    prefix = models.CharField(_("key prefix"), max_length=12, unique=True)
    secret_hash = models.CharField(_("secret hash"), max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.label})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class CardLink(models.Model):
    """A resident's citizen card, known only as a keyed hash (HMAC with a secret kept outside the database)."""

    resident = models.ForeignKey(
        "citizenpoints.Resident", on_delete=models.CASCADE, related_name="card_links", verbose_name=_("resident")
    )
    card_hash = models.CharField(_("card key"), max_length=64, unique=True)
    linked_at = models.DateTimeField(_("linked at"), default=timezone.now)
    linked_by_office = models.BooleanField(_("linked by the credit office"), default=False)

    class Meta:
        verbose_name = _("card link")
        verbose_name_plural = _("card links")

    def __str__(self) -> str:
        return f"card link of resident {self.resident_id}"


class IngestBatch(models.Model):
    class Status(models.TextChoices):
        PREVIEW = "preview", _("Uploaded, waiting for confirmation")
        RECEIVED = "received", _("Received, waiting to be processed")
        DONE = "done", _("Processed")
        FAILED = "failed", _("Failed; will be retried")

    class Channel(models.TextChoices):
        API = "api", _("API")
        CSV = "csv", _("CSV upload")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(
        "citizenpoints.DataSource", on_delete=models.PROTECT, related_name="batches", verbose_name=_("data source")
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.API)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100)
    body_hash = models.CharField(_("body hash"), max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    record_count = models.PositiveIntegerField(_("records"), default=0)
    counts = models.JSONField(_("results by outcome"), default=dict, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("processing attempts"), default=0)
    error = models.TextField(_("last error"), blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )

    class Meta:
        verbose_name = _("ingest batch")
        verbose_name_plural = _("ingest batches")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "idempotency_key"], name="batch_once_per_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.status})"


class IngestRecord(models.Model):
    """One record of a batch: the staging row the set-based pass works on, then its result for the department."""

    class Result(models.TextChoices):
        PENDING = "pending", _("Waiting")
        ACCEPTED = "accepted", _("Accepted")
        DUPLICATE = "duplicate", _("Already received")
        UNKNOWN_CARD = "unknown_card", _("Unknown card")
        NOT_JOINED = "not_joined", _("Card holder has not joined")
        UNKNOWN_BEHAVIOUR = "unknown_behaviour", _("Unknown behaviour")
        NOT_AUTHORISED = "not_authorised", _("Behaviour not authorised for this source")
        SOURCE_INACTIVE = "source_inactive", _("Source not active")
        CAP_REACHED = "cap_reached", _("Cap reached")
        OUTSIDE_WINDOW = "outside_window", _("Outside the scoring window")
        IN_FUTURE = "in_future", _("In the future")
        MALFORMED = "malformed", _("Malformed")
        QUANTITY_REQUIRED = "quantity_required", _("Quantity missing")
        AMOUNT_REQUIRED = "amount_required", _("Amount missing")
        BELOW_MINIMUM = "below_minimum", _("Below the smallest amount that earns points")

    # No index of its own: unique (batch, line) serves every lookup by batch, in line order.
    batch = models.ForeignKey(
        IngestBatch, on_delete=models.CASCADE, related_name="records", verbose_name=_("batch"), db_index=False
    )
    line = models.PositiveIntegerField(_("position in the batch"))
    external_id = models.CharField(_("record id"), max_length=100, blank=True)
    card_hash = models.CharField(_("card key"), max_length=64, blank=True)
    behaviour_code = models.CharField(_("behaviour code"), max_length=60, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    # Filled by processing:
    resident_id = models.BigIntegerField(_("resident"), null=True, blank=True)
    behaviour_id = models.BigIntegerField(_("behaviour"), null=True, blank=True)
    result = models.CharField(_("result"), max_length=20, choices=Result.choices, default=Result.PENDING)
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    points = models.DecimalField(_("points"), max_digits=12, decimal_places=2, null=True, blank=True)
    ledger_entry_id = models.BigIntegerField(_("ledger entry"), null=True, blank=True)

    class Meta:
        verbose_name = _("ingest record")
        verbose_name_plural = _("ingest records")
        ordering = ["batch", "line"]
        constraints = [models.UniqueConstraint(fields=["batch", "line"], name="ingest_record_line_unique")]
        # No index on the columns processing fills in (a batch's rows by result are found through batch_id, a
        # few thousand at most), and on PostgreSQL pages half full (migration 0012): writing a record's result
        # is then a heap-only update, 2 µs a row instead of 15 µs with every index rewritten.
        indexes = [models.Index(fields=["batch", "external_id"], name="ingest_batch_external")]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.line} {self.result}"
