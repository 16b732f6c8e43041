"""The public, versioned catalogue of civic behaviours and their points rules."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citizenpoints.rules import FORBIDDEN_TERMS, RuleKind, find_forbidden_topic, parse_rule


def forbidden_terms_constraint(name: str, *fields: str) -> models.CheckConstraint:
    """A database backstop: no field may contain a forbidden topic word (the model check also normalises)."""
    condition = Q()
    for field in fields:
        for term in FORBIDDEN_TERMS:
            condition &= ~Q(**{f"{field}__icontains": term})
    return models.CheckConstraint(condition=condition, name=name)


def validate_no_forbidden_topic(*texts: str) -> None:
    for text in texts:
        term = find_forbidden_topic(text)
        if term:
            raise ValidationError(
                _(
                    "The rules forbid recording “%(term)s”: religion or belief, health and medical history, "
                    "biometrics, political affiliation, ethnicity, sexuality and family planning are never part "
                    "of the catalogue."
                ),
                code="forbidden_category",
                params={"term": term},
            )


class Category(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=80)
    name_zh = models.CharField(_("name (Chinese)"), max_length=80)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "code"]
        constraints = [forbidden_terms_constraint("category_not_forbidden", "code", "name_en", "name_zh")]

    def __str__(self) -> str:
        return self.name_en

    def save(self, *args, **kwargs):
        self.clean()  # enforced on every save, not only in forms
        super().save(*args, **kwargs)

    def clean(self) -> None:
        validate_no_forbidden_topic(self.code, self.name_en, self.name_zh)


class DataSource(models.Model):
    """Who may award points: a city department, or the credit office itself (reviewed claims, appeals)."""

    class Kind(models.TextChoices):
        DEPARTMENT = "department", _("City department")
        CLAIMS = "claims", _("Reviewed claim")
        OFFICE = "office", _("Credit office decision")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.DEPARTMENT)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("data source")
        verbose_name_plural = _("data sources")

    def __str__(self) -> str:
        return self.name_en


class CatalogueVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        RETIRED = "retired", _("Retired")

    number = models.PositiveIntegerField(_("version number"), unique=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    publish_reason = models.TextField(_("reason for publishing"), blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        verbose_name = _("catalogue version")
        verbose_name_plural = _("catalogue versions")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="published"), name="one_published_catalogue_version"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False), name="published_version_has_date"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number} ({self.status})"


class Behaviour(models.Model):
    """One civic act in one catalogue version. Its code keeps one meaning across versions."""

    version = models.ForeignKey(
        CatalogueVersion, on_delete=models.PROTECT, related_name="behaviours", verbose_name=_("catalogue version")
    )
    code = models.SlugField(_("code"), max_length=60)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="behaviours", verbose_name=_("category")
    )
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    rule_kind = models.CharField(_("points rule"), max_length=20, choices=RuleKind.choices)
    rule = models.JSONField(
        _("rule parameters"),
        help_text=_(
            'Fixed: {"points": 2}. Per unit: {"unit": "hour", "steps": [[20, 1], [80, 2], …]}. '
            'Amount bands: {"unit": "yuan", "bands": [[1000, 10000, 5], …]}.'
        ),
    )
    cap_per_day = models.PositiveIntegerField(_("cap per day"), null=True, blank=True)
    cap_per_month = models.PositiveIntegerField(_("cap per month"), null=True, blank=True)
    cap_per_year = models.PositiveIntegerField(_("cap per year"), null=True, blank=True)
    evidence_required = models.BooleanField(
        _("evidence required"), default=False, help_text=_("Residents may claim it with photos; a reviewer decides.")
    )
    sources = models.ManyToManyField(
        DataSource, related_name="behaviours", blank=True, verbose_name=_("sources that may award it")
    )

    class Meta:
        verbose_name = _("behaviour")
        verbose_name_plural = _("behaviours")
        ordering = ["category__position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="behaviour_code_unique_in_version"),
            forbidden_terms_constraint("behaviour_not_forbidden", "code", "name_en", "name_zh"),
            models.CheckConstraint(condition=~Q(cap_per_day=0), name="behaviour_day_cap_positive"),
            models.CheckConstraint(condition=~Q(cap_per_month=0), name="behaviour_month_cap_positive"),
            models.CheckConstraint(condition=~Q(cap_per_year=0), name="behaviour_year_cap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} (v{self.version.number})" if self.version_id else self.code

    def save(self, *args, **kwargs):
        self.clean()
        super().save(*args, **kwargs)

    @property
    def points_rule(self):
        return parse_rule(self.rule_kind, self.rule)

    def clean(self) -> None:
        validate_no_forbidden_topic(self.code, self.name_en, self.name_zh, self.description_en, self.description_zh)
        try:
            rule = self.points_rule
        except ValueError as error:
            raise ValidationError({"rule": str(error)}, code="invalid_rule") from error
        smallest_record = rule.max_points_per_record()
        for field in ("cap_per_day", "cap_per_month", "cap_per_year"):
            cap = getattr(self, field)
            if cap is not None and smallest_record is not None and cap < smallest_record:
                raise ValidationError(
                    {
                        field: _("A cap of %(cap)s is smaller than one record's %(points)s points.")
                        % {"cap": cap, "points": smallest_record}
                    },
                    code="cap_below_record",
                )
        caps = [c for c in (self.cap_per_day, self.cap_per_month, self.cap_per_year) if c is not None]
        if caps != sorted(caps):
            raise ValidationError(
                _("Caps must not shrink over longer periods (day ≤ month ≤ year)."), code="caps_order"
            )
