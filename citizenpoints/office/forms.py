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


class DataSourceForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40, help_text=_("Short, fixed, used in URLs, e.g. metro."))
    name_en = forms.CharField(label=_("Name (English)"), max_length=120)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=120)
    contact = forms.CharField(label=_("Contact"), max_length=200, required=False)
    is_active = forms.BooleanField(
        label=_("Active"), required=False, initial=True, help_text=_("A paused source's keys are refused.")
    )
