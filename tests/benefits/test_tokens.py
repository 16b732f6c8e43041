import datetime

import pytest
import time_machine
import zxingcpp
from django.utils import timezone
from PIL import Image

from benefits.exceptions import RedemptionError
from benefits.models import RedemptionToken
from benefits.services.tokens import (
    ALPHABET,
    QR_LENGTH,
    code_mac,
    qr_payload,
    qr_png,
    qr_version,
    token_issue,
    token_parse,
    tokens_purge,
)
from tests.factories import BenefitFactory, tier

pytestmark = pytest.mark.django_db


def yesterday():
    return timezone.localdate() - datetime.timedelta(days=1)


def test_issued_token_is_bound_short_lived_and_fits_a_version_2_qr(resident, benefit):
    issued = token_issue(resident=resident, benefit=benefit)

    token = issued.token
    assert (token.resident, token.benefit) == (resident, benefit)
    assert datetime.timedelta(seconds=30) <= token.expires_at - token.issued_at <= datetime.timedelta(seconds=90)
    assert len(token.code) == 8 and set(token.code) <= set(ALPHABET)
    assert issued.payload == token.code + code_mac(token.code) and len(issued.payload) == QR_LENGTH
    assert issued.short_code == f"{token.code[:4]}-{token.code[4:]}"
    assert qr_version(issued.payload) <= 2


def test_the_qr_image_reads_back_with_an_independent_decoder(resident, benefit):
    import io

    payload = token_issue(resident=resident, benefit=benefit).payload
    image = Image.open(io.BytesIO(qr_png(payload)))

    [read] = zxingcpp.read_barcodes(image)

    assert read.text == payload
    assert read.format == zxingcpp.BarcodeFormat.QRCode


def test_parse_accepts_typed_codes_with_reading_slips_and_refuses_forgeries():
    assert token_parse("ab2c-d3ef").code == "AB2CD3EF"
    assert token_parse("ab2c d3eo").code == "AB2CD3E0"  # O typed for zero
    assert token_parse("IL2CD3EF").code == "112CD3EF"
    signed = token_parse(qr_payload("AB2CD3EF"))
    assert (signed.code, signed.signed) == ("AB2CD3EF", True)

    for text in ["", "https://example.org/", "AB2CD3EF" + "0" * 13, qr_payload("AB2CD3EF")[:-1] + "Z", "UUUUUUUU"]:
        with pytest.raises(RedemptionError) as refused:
            token_parse(text)
        assert refused.value.code == "forged"


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda b, r: setattr(b, "is_active", False), "benefit_paused"),
        (lambda b, r: setattr(b.merchant, "is_active", False), "benefit_paused"),
        (lambda b, r: setattr(b, "min_tier", tier("excellent")), "tier_too_low"),
        (lambda b, r: (setattr(b, "quota", 3), setattr(b, "used", 3)), "quota_exhausted"),
        (lambda b, r: setattr(b, "valid_until", yesterday()), "benefit_not_current"),
    ],
)
def test_no_code_is_shown_for_what_the_counter_would_refuse(resident, benefit, setup, code):
    setup(benefit, resident)
    benefit.merchant.save()
    benefit.save()

    with pytest.raises(RedemptionError) as refused:
        token_issue(resident=resident, benefit=benefit)

    assert refused.value.code == code
    assert not RedemptionToken.objects.exists()


def test_issuing_is_rate_limited_per_resident(resident, benefit, settings):
    settings.BENEFITS_TOKEN_ISSUE_RATE = (3, 60)
    for _ in range(3):
        token_issue(resident=resident, benefit=benefit)
    with pytest.raises(RedemptionError) as refused:
        token_issue(resident=resident, benefit=benefit)
    assert refused.value.code == "rate_limited"


def test_purge_deletes_old_unused_tokens_only(resident):
    benefit = BenefitFactory()
    with time_machine.travel(timezone.now() - datetime.timedelta(days=2), tick=False):
        old = token_issue(resident=resident, benefit=benefit).token
    fresh = token_issue(resident=resident, benefit=benefit).token

    assert tokens_purge() == 1
    assert list(RedemptionToken.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not RedemptionToken.objects.filter(pk=old.pk).exists()
