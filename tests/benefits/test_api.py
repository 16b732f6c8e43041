import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from benefits.models import Redemption
from benefits.services.tokens import token_issue
from tests.factories import BenefitFactory, tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_benefit_list_is_public_and_marks_what_the_resident_unlocked(api, resident, benefit):
    top = BenefitFactory(min_tier=tier("excellent"))
    anonymous = api.get(reverse("benefits:api-benefit-list")).json()
    assert {row["id"] for row in anonymous} == {benefit.pk, top.pk}
    assert all(row["unlocked"] is None for row in anonymous)
    api.force_authenticate(resident.user)
    rows = {row["id"]: row["unlocked"] for row in api.get(reverse("benefits:api-benefit-list")).json()}
    assert rows == {benefit.pk: True, top.pk: False}


def test_resident_gets_a_token_then_the_cashier_verifies_and_confirms(api, resident, benefit, cashier):
    api.force_authenticate(resident.user)
    token = api.post(reverse("benefits:api-token", args=[benefit.pk])).json()
    assert len(token["payload"]) == 21 and token["qr"].startswith("data:image/png;base64,")
    status_url = reverse("benefits:api-benefit-status", args=[benefit.pk]) + "?since=0"
    assert api.get(status_url).json()["status"] == "waiting"

    api.force_authenticate(cashier.user)
    scan = api.post(reverse("benefits:api-verify"), {"code": token["payload"]}, format="json").json()
    assert (scan["benefit_id"], scan["initial"], scan["tier"]["code"]) == (benefit.pk, "W", "good")
    assert "resident" not in scan and "email" not in str(scan)

    body = {"code": scan["code"], "nonce": "abcdefgh12345678"}
    first = api.post(reverse("benefits:api-confirm"), body, format="json")
    second = api.post(reverse("benefits:api-confirm"), body, format="json")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Redemption.objects.count() == 1

    refused = api.post(reverse("benefits:api-confirm"), {**body, "nonce": "another-nonce-1"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "already_used" and refused.json()["message"]

    api.force_authenticate(resident.user)
    assert api.get(status_url).json()["status"] == "used"


def test_refusal_codes_and_statuses(api, resident, benefit, cashier, settings):
    settings.BENEFITS_FAILED_SCAN_RATE = (1, 600)
    api.force_authenticate(resident.user)
    assert api.post(reverse("benefits:api-verify"), {"code": "AAAA-AAAA"}, format="json").status_code == 403
    api.force_authenticate(cashier.user)
    forged = api.post(reverse("benefits:api-verify"), {"code": "not a citypoints code"}, format="json")
    assert (forged.status_code, forged.json()["code"]) == (400, "forged")
    limited = api.post(reverse("benefits:api-verify"), {"code": "AAAA-AAAA"}, format="json")
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    assert limited["Retry-After"]


def test_a_token_needs_a_joined_resident_with_the_tier(api, benefit):
    from tests.factories import UserFactory

    api.force_authenticate(UserFactory())
    refused = api.post(reverse("benefits:api-token", args=[benefit.pk]))
    assert (refused.status_code, refused.json()["code"]) == (400, "not_joined")


def test_the_benefits_api_is_in_the_openapi_schema(api):
    schema = api.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in [
        "/api/benefits/",
        "/api/benefits/{id}/token/",
        "/api/benefits/{id}/status/",
        "/api/merchant/verify/",
        "/api/merchant/confirm/",
    ]:
        assert path in schema["paths"], sorted(schema["paths"])
    assert "nonce" in schema["components"]["schemas"]["ConfirmRequest"]["properties"]


def test_a_resident_only_sees_their_own_token_status(api, resident, benefit, cashier):
    from tests.factories import ResidentFactory

    token_issue(resident=resident, benefit=benefit)
    api.force_authenticate(ResidentFactory().user)
    assert api.get(reverse("benefits:api-benefit-status", args=[benefit.pk]) + "?since=0").json()["status"] == "waiting"


REQUESTS = [
    {"code": "7KQM-2F9X"},
    {"code": "  7KQM2F9X  "},  # trimmed, as CharField does
    {"code": 12345678},  # a number becomes text, as CharField does
    {"code": ""},
    {"code": "   "},
    {"code": None},
    {"code": "x" * 41},
    {"code": "ab\x00cd"},
    {"code": ["7KQM2F9X"]},
    {},
    {"code": "7KQM2F9X", "nonce": "n0nce-12345"},
    {"code": "7KQM2F9X", "nonce": "short"},
    {"code": "7KQM2F9X", "nonce": "has space in it"},
    {"code": "7KQM2F9X", "nonce": 1234567890},
    {"nonce": "n0nce-12345"},
    ["7KQM2F9X"],
    "7KQM2F9X",
    None,
]


@pytest.mark.parametrize("data", REQUESTS)
def test_the_counter_reads_a_request_as_its_serializer_does(data):
    """RequestFields (fields built once) accepts and refuses exactly what a new serializer per request did."""
    from rest_framework.exceptions import ValidationError

    from benefits.api.serializers import ConfirmRequestSerializer, VerifyRequestSerializer
    from benefits.api.views import CONFIRM_REQUEST, VERIFY_REQUEST

    for fields, serializer_class in (
        (VERIFY_REQUEST, VerifyRequestSerializer),
        (CONFIRM_REQUEST, ConfirmRequestSerializer),
    ):
        serializer = serializer_class(data=data)
        if serializer.is_valid():
            assert dict(fields.validated(data)) == dict(serializer.validated_data)
        else:
            with pytest.raises(ValidationError) as refused:
                fields.validated(data)
            assert refused.value.detail == serializer.errors


def test_a_malformed_request_is_refused_in_the_api_s_format(api, cashier):
    api.force_authenticate(cashier.user)
    blank = api.post(reverse("benefits:api-verify"), {"code": " "}, format="json")
    assert blank.status_code == 400
    assert blank.json() == {
        "code": "invalid",
        "message": "The request is not valid.",
        "extra": {"fields": {"code": ["This field may not be blank."]}},
    }
    bad_nonce = api.post(reverse("benefits:api-confirm"), {"code": "7KQM2F9X", "nonce": "x"}, format="json")
    assert bad_nonce.status_code == 400 and list(bad_nonce.json()["extra"]["fields"]) == ["nonce"]


def test_request_fields_refuse_a_serializer_that_validates_beyond_its_fields():
    from rest_framework import serializers

    from benefits.api.views import RequestFields

    class Checked(serializers.Serializer):
        code = serializers.CharField()

        def validate_code(self, value):
            return value

    with pytest.raises(TypeError):
        RequestFields(Checked)


def test_request_fields_refuse_inherited_validation_renamed_and_read_only_fields():
    from rest_framework import serializers

    from benefits.api.views import RequestFields

    class Base(serializers.Serializer):
        code = serializers.CharField()

        def validate(self, attrs):
            return attrs

    class Inherited(Base):
        pass

    class Renamed(serializers.Serializer):
        code = serializers.CharField(source="text")

    class ReadOnly(serializers.Serializer):
        code = serializers.CharField()
        kind = serializers.CharField(read_only=True, default="scan")

    class Plain(serializers.Serializer):
        code = serializers.CharField()

    for serializer_class in (Inherited, Renamed, ReadOnly):
        with pytest.raises(TypeError):
            RequestFields(serializer_class)
    assert RequestFields(Plain).validated({"code": " x "}) == {"code": "x"}
