"""Forms of the partner manager's screens. They parse and check input; the services decide and record."""

from django import forms
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from benefits.models import Benefit, Merchant, MerchantLocation, MerchantStaff
from benefits.office.selectors import active_tiers
from benefits.templatetags.benefits_tags import tier_name, tr
from citizenpoints.forms import IsoDateInput

MERCHANT_TEXT = ("name_en", "name_zh", "address_en", "address_zh", "opening_hours_en", "opening_hours_zh")
LOGO_HELP = _("PNG, JPEG, GIF or WebP, up to 5 MB. It is re-encoded, and a small copy is made for lists.")


class MerchantForm(forms.ModelForm):
    """A partner's names, category, address and opening hours, plus an optional logo (checked by the service)."""

    logo_upload = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=LOGO_HELP,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )

    class Meta:
        model = Merchant
        fields = ("name_en", "name_zh", "category", *MERCHANT_TEXT[2:])
        help_texts = {
            "name_en": _("As residents will read it in English."),
            "name_zh": _("As residents will read it in Chinese."),
            "opening_hours_en": _("e.g. 09:00-21:00 daily"),
            "opening_hours_zh": _("e.g. 每天 09:00-21:00"),
        }

    def clean(self):
        data = super().clean()
        for name in MERCHANT_TEXT:
            if isinstance(data.get(name), str):
                data[name] = data[name].strip()
        return data

    def details(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}

    def _post_clean(self):
        # The services validate the model and write it; the form only parses (and leaves the instance untouched).
        pass

    def new_slug(self) -> str:
        """A short name for links, unique, from the English name (or "partner" when it has no Latin letters)."""
        base = slugify(self.cleaned_data["name_en"])[:40].strip("-") or "partner"
        taken = set(Merchant.objects.filter(slug__startswith=base).values_list("slug", flat=True))
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        return slug


class LocationForm(forms.ModelForm):
    class Meta:
        model = MerchantLocation
        fields = ("name_en", "name_zh", "address_en", "address_zh", "opening_hours_en", "opening_hours_zh")
        help_texts = {"name_en": _("e.g. Front desk, or the branch's name.")}


class StaffInviteForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("A new account gets an email with a link to choose a password."),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=MerchantStaff.Role.choices,
        initial=MerchantStaff.Role.CASHIER,
        widget=forms.RadioSelect,
        help_text=_("Cashiers scan residents' codes; managers also see the partner's history and totals."),
    )
    location = forms.ModelChoiceField(
        label=_("Works at"),
        queryset=MerchantLocation.objects.none(),
        required=False,
        empty_label=_("Every location of the partner"),
    )

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = merchant.locations.filter(is_active=True)
        self.fields["location"].label_from_instance = lambda location: tr(location, "name")


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Why"),
        max_length=500,
        help_text=_("Kept in the audit trail."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class TierChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, tier) -> str:
        return str(_("%(tier)s (from score %(score)s)") % {"tier": tier_name(tier), "score": tier.min_score})


class MinTierForm(ReasonForm):
    min_tier = TierChoiceField(
        label=_("Minimum tier"),
        queryset=active_tiers(),
        empty_label=_("Choose a tier…"),  # after a scheme switch nothing is preselected: the officer decides
        help_text=_("Residents in this tier or a higher one may use the benefit."),
    )
    field_order = ["min_tier", "reason"]


class QuotaForm(ReasonForm):
    quota = forms.IntegerField(
        label=_("Total quota"),
        min_value=0,
        required=False,
        help_text=_("How many times it can be used in all. Empty: no limit. Never below the uses already made."),
    )
    field_order = ["quota", "reason"]


class BenefitForm(forms.ModelForm):
    """Create a benefit (every field) or edit one (without minimum tier, quota and active: those ask why)."""

    min_tier = TierChoiceField(
        label=_("Minimum tier"),
        queryset=active_tiers(),
        help_text=_("Residents in this tier or a higher one may use the benefit."),
    )

    class Meta:
        model = Benefit
        fields = (
            "family",
            "title_en",
            "title_zh",
            "terms_en",
            "terms_zh",
            "min_tier",
            "valid_from",
            "valid_until",
            "quota",
            "limit_count",
            "limit_period",
            "locations",
            "is_active",
        )
        widgets = {
            "terms_en": forms.Textarea(attrs={"rows": 3}),
            "terms_zh": forms.Textarea(attrs={"rows": 3}),
            "valid_from": IsoDateInput(),
            "valid_until": IsoDateInput(),
            "locations": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "is_active": _("Untick to save it paused, and resume it when the partner is ready."),
            "limit_count": _("How many times one resident may use it in each period. Empty: no limit per resident."),
        }

    def __init__(self, *args, merchant: Merchant, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["min_tier"].queryset = active_tiers()
        self.fields["min_tier"].empty_label = _("Choose a tier…")
        self.fields["family"].choices = [("", _("Choose a family…")), *Benefit.Family.choices]
        self.fields["locations"].queryset = merchant.locations.filter(is_active=True)
        self.fields["locations"].label_from_instance = lambda location: tr(location, "name")
        self.fields["locations"].help_text = _("None ticked: at every location of the partner.")
        self.fields["valid_from"].initial = timezone.localdate
        if editing:
            for name in ("min_tier", "quota", "is_active"):
                del self.fields[name]

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("The end date must not be before the start date."))
        return data

    def _post_clean(self):
        # As for MerchantForm: the services validate and write.
        pass


class BenefitFilterForm(forms.Form):
    STATUS = [("", _("Active and paused")), ("active", _("Active")), ("paused", _("Paused"))]

    text = forms.CharField(label=_("Title or partner contains"), required=False)
    family = forms.ChoiceField(label=_("Family"), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=STATUS, required=False)
    merchant = forms.ModelChoiceField(
        label=_("Partner"), queryset=Merchant.objects.order_by("name_en"), required=False, to_field_name="slug"
    )
    needs_tier = forms.BooleanField(label=_("Only those needing a new minimum tier"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["family"].choices = [("", _("All families")), *Benefit.Family.choices]
        self.fields["merchant"].empty_label = _("All partners")
        self.fields["merchant"].label_from_instance = lambda merchant: tr(merchant, "name")


class MerchantFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Active and paused")), ("active", _("Active")), ("paused", _("Paused"))],
        required=False,
    )
