import datetime
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from benefits.models import Benefit, Merchant
from benefits.services.benefits import benefit_create, benefit_pause, benefit_set_min_tier, benefit_set_quota
from benefits.services.merchants import location_add, merchant_onboard, merchant_pause, merchant_set_logo, staff_add
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import AuditEvent, Tier
from tests.factories import BenefitFactory, MerchantFactory, MerchantLocationFactory, UserFactory, tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner_manager():
    return UserFactory(roles=["partner_manager"])


def code_of(call, **kwargs) -> str:
    with pytest.raises(ApplicationError) as refused:
        call(**kwargs)
    return refused.value.code


def test_the_partner_manager_onboards_and_pauses_a_partner(partner_manager):
    merchant = merchant_onboard(
        acting_user=partner_manager,
        slug="city-gym",
        name_en="City Gym",
        name_zh="城市健身房",
        category="fitness",
        opening_hours_en="6-22",
    )
    location = location_add(acting_user=partner_manager, merchant=merchant, name_en="Front desk", name_zh="前台")
    cashier = staff_add(acting_user=partner_manager, merchant=merchant, user=UserFactory(), location=location)
    merchant_pause(acting_user=partner_manager, merchant=merchant, reason="Contract under review")

    assert not Merchant.objects.get(pk=merchant.pk).is_active
    assert cashier.location == location
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_id"))
    assert actions == [
        ("benefits.merchant_onboard", partner_manager.pk),
        ("benefits.location_add", partner_manager.pk),
        ("benefits.staff_add", partner_manager.pk),
        ("benefits.merchant_pause", partner_manager.pk),
    ]
    assert AuditEvent.objects.get(action="benefits.merchant_pause").reason == "Contract under review"


def test_only_the_partner_manager_may(partner_manager):
    reviewer = UserFactory(roles=["reviewer"])
    assert code_of(merchant_onboard, acting_user=reviewer, slug="x", name_en="X", name_zh="X") == "permission_denied"
    merchant = MerchantFactory()
    assert code_of(merchant_pause, acting_user=reviewer, merchant=merchant, reason="r") == "permission_denied"
    assert code_of(merchant_pause, acting_user=partner_manager, merchant=merchant, reason=" ") == "reason_required"


def test_a_staff_account_belongs_to_one_partner(partner_manager):
    user = UserFactory()
    staff_add(acting_user=partner_manager, merchant=MerchantFactory(), user=user)
    assert code_of(staff_add, acting_user=partner_manager, merchant=MerchantFactory(), user=user) == "already_staff"
    elsewhere = MerchantLocationFactory()
    other = {"merchant": MerchantFactory(), "user": UserFactory(), "location": elsewhere}
    assert code_of(staff_add, acting_user=partner_manager, **other) == "wrong_merchant"


def _image_upload(fmt="JPEG", size=(600, 300)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, "teal")
    exif = Image.Exif()
    exif[0x010F] = "Secret Camera Maker"
    image.save(buffer, format=fmt, exif=exif)
    return SimpleUploadedFile(f"logo.{fmt.lower()}", buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def test_logos_are_re_encoded_with_a_thumbnail_and_lose_their_metadata(partner_manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    merchant = merchant_set_logo(acting_user=partner_manager, merchant=MerchantFactory(), upload=_image_upload())

    with Image.open(merchant.logo.path) as logo, Image.open(merchant.logo_thumbnail.path) as thumb:
        assert (logo.format, logo.size) == ("PNG", (600, 300))
        assert thumb.format == "PNG" and max(thumb.size) == 128
        assert not logo.getexif()
    assert b"Secret Camera Maker" not in Path(merchant.logo.path).read_bytes()


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("logo.png", b"%PDF-1.7 not an image", content_type="image/png"),
        SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, content_type="image/png"),
    ],
)
def test_what_is_not_an_image_is_refused(partner_manager, settings, tmp_path, upload):
    settings.MEDIA_ROOT = tmp_path
    merchant = MerchantFactory()
    assert code_of(merchant_set_logo, acting_user=partner_manager, merchant=merchant, upload=upload) == "not_an_image"
    assert not Merchant.objects.get(pk=merchant.pk).logo


def test_creating_a_benefit(partner_manager):
    merchant = MerchantFactory()
    counter = MerchantLocationFactory(merchant=merchant)
    benefit = benefit_create(
        acting_user=partner_manager,
        merchant=merchant,
        family="fitness",
        title_en="Half-price gym",
        title_zh="健身半价",
        min_tier=tier("very-good"),
        valid_from=datetime.date(2026, 1, 1),
        valid_until=datetime.date(2026, 12, 31),
        quota=500,
        limit_count=2,
        limit_period="week",
        locations=[counter],
    )
    assert list(benefit.locations.all()) == [counter]
    assert AuditEvent.objects.get(action="benefits.benefit_create").after["min_tier"] == "very-good"

    grades_tier = Tier.objects.get(scheme__code="grades", code="a")
    refused = code_of(
        benefit_create,
        acting_user=partner_manager,
        merchant=merchant,
        family="go",
        title_en="x",
        title_zh="x",
        min_tier=grades_tier,
        valid_from=datetime.date(2026, 1, 1),
    )
    assert refused == "inactive_scheme"
    assert (
        code_of(
            benefit_create,
            acting_user=partner_manager,
            merchant=merchant,
            family="go",
            title_en="x",
            title_zh="x",
            min_tier=tier("good"),
            valid_from=datetime.date(2026, 1, 1),
            locations=[MerchantLocationFactory()],
        )
        == "wrong_merchant"
    )


def test_pausing_moving_and_requota_a_benefit(partner_manager):
    benefit = BenefitFactory(quota=10, used=4)
    benefit_pause(acting_user=partner_manager, benefit=benefit, reason="Out of bikes")
    assert not Benefit.objects.get(pk=benefit.pk).is_active
    assert code_of(benefit_set_quota, acting_user=partner_manager, benefit=benefit, quota=3, reason="x") == (
        "quota_below_used"
    )
    benefit_set_quota(acting_user=partner_manager, benefit=benefit, quota=None, reason="Unlimited this summer")
    assert Benefit.objects.get(pk=benefit.pk).quota is None
    benefit_set_min_tier(acting_user=partner_manager, benefit=benefit, min_tier=tier("good"), reason="Broader reach")
    assert Benefit.objects.get(pk=benefit.pk).min_tier.code == "good"
