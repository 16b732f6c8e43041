from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class IsoDateInput(forms.DateInput):
    """The browser's date picker. Its value must be ISO (2026-11-21) in every language: a localised value such as
    "2026年11月21日" leaves the picker blank after the form comes back."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class JoinForm(forms.Form):
    given_name = forms.CharField(
        label=_("Your given name"),
        max_length=60,
        help_text=_("Partner staff see only its first letter when you use a benefit."),
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    language = forms.ChoiceField(label=_("Language for messages"), choices=settings.LANGUAGES)
    terms_version = forms.CharField(widget=forms.HiddenInput)
    consent = forms.BooleanField(
        label=_("I have read the terms above and I agree to join CityPoints."),
        error_messages={"required": _("To join, tick the box to say you have read and agree to the terms.")},
    )


class CardLinkForm(forms.Form):
    card_number = forms.CharField(
        label=_("Citizen card number"),
        max_length=40,
        help_text=_("We keep only a coded form of it, never the number itself, and nobody at the office can see it."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text", "spellcheck": "false"}),
    )


class NoticesForm(forms.Form):
    email_notices = forms.BooleanField(
        label=_("Email me my notices"),
        required=False,
        help_text=_("Points are summed up in one email a day at most; everything is also in your inbox."),
    )
