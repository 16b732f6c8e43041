from django import forms
from django.utils.translation import gettext_lazy as _


class ApiKeyForm(forms.Form):
    label = forms.CharField(
        label=_("What the key is for"), max_length=80, help_text=_("For example “nightly export server”.")
    )


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "First line: external_id, card_number, behaviour_code, occurred_at, and quantity or amount where "
            "the behaviour needs it. UTF-8 or GBK. At most 10,000 records."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
