"""Partners, their CreditEase benefits, the short-lived QR tokens and the redemptions they allow.

Invariants live in the database: a benefit's `used` never passes its quota, a resident's use in a period never passes
the allowance copied onto their counter row, a token is redeemed at most once (one Redemption per token), and a
scanner's nonce names at most one answer.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def _bilingual(en: str, zh: str) -> str:
    return zh if (get_language() or "").lower().startswith("zh") and zh else en


class Merchant(models.Model):
    """A partner that honours CreditEase benefits at its counters."""

    class Category(models.TextChoices):
        TRANSPORT = "transport", _("Transport and bike hire")
        LIBRARY = "library", _("Library and reading")
        HEALTH = "health", _("Health care")
        FITNESS = "fitness", _("Sport and fitness")
        TRAVEL = "travel", _("Travel and tourism")
        SHOPPING = "shopping", _("Shops and services")
        CULTURE = "culture", _("Culture and leisure")
        PUBLIC = "public", _("Public services")

    name_en = models.CharField(_("name (English)"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120)
    slug = models.SlugField(_("short name"), unique=True)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices, default=Category.SHOPPING)
    address_en = models.CharField(_("address (English)"), max_length=200, blank=True)
    address_zh = models.CharField(_("address (Chinese)"), max_length=200, blank=True)
    opening_hours_en = models.CharField(_("opening hours (English)"), max_length=200, blank=True)
    opening_hours_zh = models.CharField(_("opening hours (Chinese)"), max_length=200, blank=True)
    logo = models.ImageField(
        _("logo"), upload_to="merchants/logos/", blank=True, help_text=_("Re-encoded as PNG without metadata.")
    )
    logo_thumbnail = models.ImageField(_("logo thumbnail"), upload_to="merchants/thumbs/", blank=True)
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Paused partners redeem nothing."))
    onboarded_at = models.DateTimeField(_("onboarded at"), default=timezone.now)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")

    def __str__(self) -> str:
        return self.name_en

    @property
    def name(self) -> str:
        return _bilingual(self.name_en, self.name_zh)

    @property
    def address(self) -> str:
        return _bilingual(self.address_en, self.address_zh)

    @property
    def opening_hours(self) -> str:
        return _bilingual(self.opening_hours_en, self.opening_hours_zh)


class MerchantLocation(models.Model):
    """A counter, branch or station where the merchant's staff redeem benefits."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="locations", verbose_name=_("merchant")
    )
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120)
    address_en = models.CharField(_("address (English)"), max_length=200, blank=True)
    address_zh = models.CharField(_("address (Chinese)"), max_length=200, blank=True)
    opening_hours_en = models.CharField(_("opening hours (English)"), max_length=200, blank=True)
    opening_hours_zh = models.CharField(_("opening hours (Chinese)"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("merchant location")
        verbose_name_plural = _("merchant locations")
        ordering = ["merchant", "name_en"]

    def __str__(self) -> str:
        return f"{self.merchant} · {self.name_en}"

    @property
    def name(self) -> str:
        return _bilingual(self.name_en, self.name_zh)

    @property
    def address(self) -> str:
        return _bilingual(self.address_en, self.address_zh)


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
    location = models.ForeignKey(
        MerchantLocation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("works at"),
        help_text=_("Empty: may redeem at every location of the merchant."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("merchant staff member")
        verbose_name_plural = _("merchant staff")

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant}"


class Benefit(models.Model):
    """A CreditEase benefit: what a resident of at least `min_tier` may redeem at the merchant's locations."""

    class Family(models.TextChoices):
        GO = "go", _("Go")
        TRAVEL = "travel", _("Travel")
        RENT = "rent", _("Rent")
        LOANS = "loans", _("Loans")
        APPROVALS = "approvals", _("Approvals")
        LIBRARY = "library", _("Library")
        HEALTH = "health", _("Health")
        FITNESS = "fitness", _("Fitness")
        SHOPPING = "shopping", _("Shopping")
        CULTURE = "culture", _("Culture")

    class Period(models.TextChoices):
        DAY = "day", _("per day")
        WEEK = "week", _("per week")
        MONTH = "month", _("per month")
        YEAR = "year", _("per year")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="benefits", verbose_name=_("merchant")
    )
    family = models.CharField(_("family"), max_length=12, choices=Family.choices)
    title_en = models.CharField(_("title (English)"), max_length=120)
    title_zh = models.CharField(_("title (Chinese)"), max_length=120)
    terms_en = models.TextField(_("terms (English)"), blank=True)
    terms_zh = models.TextField(_("terms (Chinese)"), blank=True)
    min_tier = models.ForeignKey(
        "citizenpoints.Tier",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("minimum tier"),
        help_text=_("Residents in this tier or a higher one of the same scheme may use the benefit."),
    )
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Empty: no end date."))
    quota = models.PositiveIntegerField(
        _("total quota"), null=True, blank=True, help_text=_("How many times it can be used in all. Empty: no limit.")
    )
    used = models.PositiveIntegerField(_("times used"), default=0)
    limit_count = models.PositiveSmallIntegerField(
        _("uses per resident"), null=True, blank=True, help_text=_("Empty: no limit per resident.")
    )
    limit_period = models.CharField(
        _("per"), max_length=5, choices=Period.choices, default=Period.MONTH, help_text=_("Local calendar period.")
    )
    locations = models.ManyToManyField(
        MerchantLocation,
        blank=True,
        related_name="benefits",
        verbose_name=_("honoured at"),
        help_text=_("Empty: at every location of the merchant."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("benefit")
        verbose_name_plural = _("benefits")
        ordering = ["family", "title_en"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quota__isnull=True) | Q(used__lte=models.F("quota")), name="benefit_used_within_quota"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="benefit_dates_ordered",
            ),
            models.CheckConstraint(
                condition=Q(limit_count__isnull=True) | Q(limit_count__gt=0), name="benefit_limit_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title_en

    @property
    def title(self) -> str:
        return _bilingual(self.title_en, self.title_zh)

    @property
    def terms(self) -> str:
        return _bilingual(self.terms_en, self.terms_zh)

    @property
    def remaining(self) -> int | None:
        return None if self.quota is None else max(self.quota - self.used, 0)


class ResidentBenefitUsage(models.Model):
    """How often one resident used one benefit in one period: the per-resident limit's counter row.

    `allowed` is the benefit's limit when the row was last counted, so the database itself refuses a count above it.
    """

    benefit = models.ForeignKey(Benefit, on_delete=models.CASCADE, related_name="+", verbose_name=_("benefit"))
    resident = models.ForeignKey(
        "citizenpoints.Resident", on_delete=models.CASCADE, related_name="+", verbose_name=_("resident")
    )
    period_start = models.DateField(_("period starts"))
    count = models.PositiveSmallIntegerField(_("uses"), default=0)
    allowed = models.PositiveSmallIntegerField(_("uses allowed"))

    class Meta:
        verbose_name = _("benefit use in a period")
        verbose_name_plural = _("benefit uses in a period")
        constraints = [
            models.UniqueConstraint(fields=["benefit", "resident", "period_start"], name="usage_once_per_period"),
            models.CheckConstraint(condition=Q(count__lte=models.F("allowed")), name="usage_within_limit"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} used {self.benefit_id} {self.count}× from {self.period_start}"


class RedemptionToken(models.Model):
    """What the resident's phone shows: bound to one resident and one benefit, short-lived, redeemed at most once.

    The QR carries `code` and a MAC of it (see benefits.services.tokens); a cashier may type `code` instead.
    """

    code = models.CharField(_("short code"), max_length=8, unique=True)
    resident = models.ForeignKey(
        "citizenpoints.Resident", on_delete=models.CASCADE, related_name="+", verbose_name=_("resident")
    )
    benefit = models.ForeignKey(Benefit, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("benefit"))
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    verified_at = models.DateTimeField(
        _("scanned at"),
        null=True,
        blank=True,
        help_text=_("A token scanned while live may be confirmed a little later."),
    )
    # Set in the redeeming transaction, on the row that transaction locks: a second confirmation waiting on the lock
    # then reads the updated row, never a stale "unused" one.
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("redemption token")
        verbose_name_plural = _("redemption tokens")
        indexes = [models.Index(fields=["expires_at"], name="token_expiry")]

    def __str__(self) -> str:
        return self.code


class Redemption(models.Model):
    """One use of a benefit at the counter. Exactly one per token; the scanner's nonce makes a retry harmless."""

    token = models.OneToOneField(
        RedemptionToken, on_delete=models.PROTECT, related_name="redemption", verbose_name=_("token")
    )
    resident = models.ForeignKey(
        "citizenpoints.Resident",
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("resident"),
    )
    benefit = models.ForeignKey(
        Benefit, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("benefit")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("merchant")
    )
    location = models.ForeignKey(
        MerchantLocation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
        verbose_name=_("location"),
    )
    staff = models.ForeignKey(
        MerchantStaff, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("confirmed by")
    )
    tier = models.ForeignKey(
        "citizenpoints.Tier", on_delete=models.PROTECT, related_name="+", verbose_name=_("resident's tier then")
    )
    nonce = models.CharField(_("scanner's request id"), max_length=64)
    redeemed_at = models.DateTimeField(_("redeemed at"), default=timezone.now)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-redeemed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["staff", "nonce"], name="redemption_nonce_once_per_staff")]
        indexes = [
            models.Index(fields=["merchant", "-redeemed_at"], name="redemption_merchant_time"),
            models.Index(fields=["resident", "-redeemed_at"], name="redemption_resident_time"),
        ]

    def __str__(self) -> str:
        return f"{self.benefit_id} for {self.resident_id} at {self.redeemed_at:%Y-%m-%d %H:%M}"


class RedemptionDenial(models.Model):
    """A refused scan or confirmation, with its stable code: merchants see why, and the office sees patterns."""

    staff = models.ForeignKey(
        MerchantStaff, on_delete=models.CASCADE, related_name="denials", verbose_name=_("scanned by")
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="denials", verbose_name=_("merchant"))
    token = models.ForeignKey(
        RedemptionToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("token")
    )
    benefit = models.ForeignKey(
        Benefit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("benefit")
    )
    step = models.CharField(_("step"), max_length=10, choices=[("verify", _("scan")), ("confirm", _("confirm"))])
    code = models.CharField(_("refusal code"), max_length=40)
    nonce = models.CharField(_("scanner's request id"), max_length=64, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("refused redemption")
        verbose_name_plural = _("refused redemptions")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "nonce"], condition=~Q(nonce=""), name="denial_nonce_once_per_staff"
            )
        ]
        indexes = [models.Index(fields=["merchant", "-at"], name="denial_merchant_time")]

    def __str__(self) -> str:
        return f"{self.code} at {self.at:%Y-%m-%d %H:%M}"
