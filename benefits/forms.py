from django import forms
from django.utils.translation import gettext_lazy as _


class ScanForm(forms.Form):
    code = forms.CharField(
        label=_("Short code"),
        max_length=40,
        help_text=_("The 8 characters under the resident's QR code, e.g. 7KQM-2F9X."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "inputmode": "text",
                "class": "code-input",
            }
        ),
    )


class ConfirmForm(forms.Form):
    code = forms.CharField(max_length=40, widget=forms.HiddenInput)
    nonce = forms.CharField(max_length=64, widget=forms.HiddenInput)
