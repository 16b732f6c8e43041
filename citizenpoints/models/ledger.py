"""The append-only ledger and the balances materialised from it."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64
POINTS = {"max_digits": 12, "decimal_places": 2}


class LedgerEntry(models.Model):
    """One award or reversal. Never updated or deleted (a PostgreSQL trigger refuses it); corrections are new rows.

    Each resident's entries form a hash chain: `hash` commits to the entry's content and to `prev_hash`, the hash
    of that resident's previous entry (`seq` - 1), so an edited, inserted or deleted row breaks the chain.
    """

    class Kind(models.TextChoices):
        AWARD = "award", _("Award")
        REVERSAL = "reversal", _("Reversal")

    # No index of its own: (resident, seq) and (resident, -occurred_at) lead with it. Every index costs each write.
    resident = models.ForeignKey(
        "citizenpoints.Resident",
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        verbose_name=_("resident"),
        db_index=False,
    )
    seq = models.PositiveBigIntegerField(_("sequence in the resident's chain"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    behaviour = models.ForeignKey(
        "citizenpoints.Behaviour", on_delete=models.PROTECT, related_name="+", verbose_name=_("behaviour")
    )
    # Copied from the behaviour: stable across catalogue versions, and what caps, badges and filters group by.
    behaviour_code = models.SlugField(_("behaviour code"), max_length=60, db_index=False)  # in ledger_resident_caps
    # No index for the category or the catalogue version: nothing looks entries up by either alone (a resident's
    # history filters their own entries), categories and published versions are never deleted, and an index on a
    # handful of values costs every write; worse, with stale statistics the planner used the category's to
    # intersect with a resident's entries and read every entry of the category, for each resident of a batch.
    category = models.ForeignKey(
        "citizenpoints.Category", on_delete=models.PROTECT, related_name="+", verbose_name=_("category"), db_index=False
    )
    catalogue_version = models.ForeignKey(
        "citizenpoints.CatalogueVersion",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("catalogue version"),
        db_index=False,
    )
    source = models.ForeignKey(  # indexed by ledger_once_per_source_record, which leads with it
        "citizenpoints.DataSource", on_delete=models.PROTECT, related_name="+", verbose_name=_("source"), db_index=False
    )
    external_id = models.CharField(_("source's record id"), max_length=100)
    occurred_at = models.DateTimeField(_("occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    points = models.DecimalField(_("points"), **POINTS)
    capped = models.BooleanField(_("reduced by a cap"), default=False)
    # No database constraint: the retention purge may delete an award whose reversal, recorded later, is younger than
    # the retention period. The reversal keeps the award's id, which its hash commits to (see services.retention).
    reverses = models.OneToOneField(
        "self",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses entry"),
    )
    reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(  # indexed for reversals only (ledger_decided_by): awards have no decider
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
        db_index=False,
    )
    prev_hash = models.CharField(_("previous entry's hash"), max_length=64)
    # Not indexed: the chain's identity is (resident, seq), unique, and every hash commits to its resident and seq,
    # so equal hashes would need a SHA-256 collision. A unique index on random 64-character keys was the costliest
    # of the ledger's indexes to insert into at a million entries (each insert a random leaf page).
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["resident_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="ledger_once_per_source_record"),
            models.UniqueConstraint(fields=["resident", "seq"], name="ledger_chain_position_unique"),
            models.CheckConstraint(
                condition=Q(kind="award", points__gt=0, reverses__isnull=True)
                | Q(kind="reversal", points__lt=0, reverses__isnull=False, decided_by__isnull=False) & ~Q(reason=""),
                name="ledger_awards_positive_reversals_explained",
            ),
        ]
        indexes = [
            models.Index(fields=["resident", "-occurred_at", "-id"], name="ledger_resident_history"),
            models.Index(fields=["resident", "behaviour_code", "occurred_at"], name="ledger_resident_caps"),
            models.Index(fields=["occurred_at"], name="ledger_occurred"),
            models.Index(fields=["decided_by"], name="ledger_decided_by", condition=Q(decided_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.points} for resident {self.resident_id}"

    @property
    def reversal(self) -> "LedgerEntry | None":
        """The correction that took this award back, or None. For templates: `entry.reversed_by` raises for the many
        awards nobody reversed, and the template engine answers each miss by listing the entry's attributes."""
        try:
            return self.reversed_by
        except LedgerEntry.DoesNotExist:
            return None


class ScoringWindow(models.Model):
    """The single row saying from when points count. Balances always equal the ledger summed from `starts_at`."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    starts_at = models.DateTimeField(_("points count from"))
    aged_at = models.DateTimeField(_("last aged at"), default=timezone.now)

    class Meta:
        verbose_name = _("scoring window")
        verbose_name_plural = _("scoring window")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="scoring_window_singleton")]

    def __str__(self) -> str:
        return f"points from {self.starts_at:%Y-%m-%d}"


class Balance(models.Model):
    """A resident's materialised points and chain head; its row lock serialises that resident's ledger writes.

    `chain_floor_seq`/`chain_floor_hash` record where the retention purge cut the chain: the first remaining entry
    must be #floor + 1 and link to the floor hash (the hash of the last purged entry; GENESIS before any purge).
    """

    resident = models.OneToOneField(
        "citizenpoints.Resident",
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="balance",
        verbose_name=_("resident"),
    )
    points = models.DecimalField(_("points in the scoring window"), default=0, **POINTS)
    lifetime_points = models.DecimalField(_("points ever earned"), default=0, **POINTS)
    last_seq = models.PositiveBigIntegerField(_("last sequence number"), default=0)
    last_hash = models.CharField(_("last hash"), max_length=64, default=GENESIS_HASH)
    chain_floor_seq = models.PositiveBigIntegerField(
        _("last purged sequence number"), default=0, help_text=_("Entries up to here were deleted by retention.")
    )
    chain_floor_hash = models.CharField(
        _("last purged hash"),
        max_length=64,
        default=GENESIS_HASH,
        help_text=_("The hash the first remaining entry links to."),
    )
    tier = models.ForeignKey(
        "citizenpoints.Tier", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("tier")
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("balance")
        verbose_name_plural = _("balances")
        constraints = [
            models.CheckConstraint(condition=Q(points__gte=0), name="balance_never_negative"),
            models.CheckConstraint(condition=Q(chain_floor_seq__lte=F("last_seq")), name="balance_floor_below_head"),
        ]
        indexes = [models.Index(fields=["tier"], name="balance_tier")]

    def __str__(self) -> str:
        return f"{self.points} points for resident {self.resident_id}"
