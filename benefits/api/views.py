"""The benefits API. Residents: benefits, a token to show, its status. Partner staff: verify, confirm, history.

Refusals are `{"code", "message", "extra"}` as everywhere in the API: 400 as for every business refusal, 429 with
Retry-After when rate-limited, 403 for accounts that are not partner staff.
"""

import datetime
from collections.abc import Mapping

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.fields import SkipField
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from benefits import conf
from benefits.api.serializers import (
    BenefitSerializer,
    ConfirmRequestSerializer,
    RedemptionSerializer,
    RefusalSerializer,
    ResidentRedemptionSerializer,
    StatusSerializer,
    TokenSerializer,
    VerifyRequestSerializer,
    VerifyResponseSerializer,
)
from benefits.exceptions import RedemptionError, refuse
from benefits.models import Benefit, Redemption
from benefits.selectors import benefits_public, merchant_redemptions, resident_redemptions, resident_tier
from benefits.services.redemptions import redemption_confirm, redemption_verify, staff_for
from benefits.services.tokens import qr_data_uri, token_issue
from citizenpoints.selectors import resident_for_user

REFUSED = OpenApiResponse(RefusalSerializer, description="Refused: see `code`.")
STATUS_FOR = {"rate_limited": 429, "not_merchant_staff": 403}

# The counter's answers, serialised by one instance each, built once: a serializer's fields are deep-copied for every
# new instance (for a ModelSerializer, built from the model), which cost more than the redemption's statements.
# `to_representation` keeps no state on the instance, so threads may share them.
VERIFY_ANSWER = VerifyResponseSerializer()
CONFIRM_ANSWER = RedemptionSerializer()


class RequestFields:
    """A plain request serializer's `is_valid(raise_exception=True)` and `validated_data`, by its fields built once.

    A new serializer deep-copies its fields (rebuilding a RegexField's validator), which cost the counter more than
    validating. Here the fields, built once, validate a valid request (`Field.run_validation` keeps no state on the
    field, so threads may share them); anything else goes through a new serializer as before, so refusals are DRF's
    own, word for word. Only for serializers that validate nothing beyond their fields (no `validate`,
    `validate_<field>` or Meta.validators, their own or inherited) and whose fields are writable and keep their
    names (DRF keys validated data by a field's `source`).
    """

    def __init__(self, serializer_class: type[serializers.Serializer]):
        custom = [
            name
            for name in dir(serializer_class)
            if (name == "validate" or name.startswith("validate_"))
            and getattr(serializer_class, name) is not getattr(serializers.Serializer, name, None)
        ]
        if getattr(getattr(serializer_class, "Meta", None), "validators", None):
            custom.append("Meta.validators")
        fields = tuple(serializer_class().fields.items())
        custom += [name for name, field in fields if field.read_only or field.source != name]
        if custom:
            raise TypeError(f"{serializer_class.__name__} validates or renames in {custom}: use the serializer")
        self.serializer_class = serializer_class
        self.fields = fields

    def validated(self, data) -> Mapping:
        if isinstance(data, Mapping):
            try:
                return {name: field.run_validation(field.get_value(data)) for name, field in self.fields}
            except (serializers.ValidationError, SkipField):
                pass
        serializer = self.serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


VERIFY_REQUEST = RequestFields(VerifyRequestSerializer)
CONFIRM_REQUEST = RequestFields(ConfirmRequestSerializer)


def refusal_response(error: RedemptionError) -> Response:
    status_code = STATUS_FOR.get(error.code, 400)
    response = Response({"code": error.code, "message": error.message, "extra": error.extra}, status=status_code)
    if status_code == 429:
        response["Retry-After"] = "60"
    return response


class BenefitList(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses=BenefitSerializer(many=True),
        summary="Benefits of the active tier scheme, lowest tier first; `unlocked` for a signed-in resident.",
    )
    def get(self, request):
        resident = resident_for_user(user=request.user)
        tier = resident_tier(resident=resident) if resident else None
        return Response(BenefitSerializer(benefits_public(), many=True, context={"tier": tier}).data)


class BenefitDetail(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=BenefitSerializer)
    def get(self, request, pk: int):
        benefit = get_object_or_404(benefits_public(), pk=pk)
        resident = resident_for_user(user=request.user)
        tier = resident_tier(resident=resident) if resident else None
        return Response(BenefitSerializer(benefit, context={"tier": tier}).data)


class TokenIssue(APIView):
    @extend_schema(
        request=None,
        responses={201: TokenSerializer, 400: REFUSED, 429: REFUSED},
        summary="A fresh QR token for the signed-in resident (valid about a minute).",
    )
    def post(self, request, pk: int):
        benefit = get_object_or_404(Benefit.objects.select_related("merchant", "min_tier"), pk=pk)
        resident = resident_for_user(user=request.user)
        try:
            if resident is None:
                raise refuse("not_joined", audience="resident")
            issued = token_issue(resident=resident, benefit=benefit)
        except RedemptionError as error:
            return refusal_response(error)
        data = {
            "code": issued.token.code,
            "short_code": issued.short_code,
            "payload": issued.payload,
            "qr": qr_data_uri(issued.payload),
            "expires_at": issued.token.expires_at,
            "refresh_seconds": conf.token_refresh_seconds(),
        }
        return Response(TokenSerializer(data).data, status=status.HTTP_201_CREATED)


class BenefitStatus(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("since", int, description="Unix time the QR screen opened.", required=True)],
        responses={200: StatusSerializer},
        summary="Whether the signed-in resident redeemed this benefit since `since` (the QR screen polls it).",
    )
    def get(self, request, pk: int):
        resident = resident_for_user(user=request.user)
        try:
            since = datetime.datetime.fromtimestamp(int(request.query_params.get("since", "")), tz=datetime.UTC)
        except (ValueError, OverflowError, OSError):
            since = timezone.now() - conf.token_ttl()
        redemption = None
        if resident is not None:
            redemption = (
                Redemption.objects.filter(resident=resident, benefit_id=pk, token__issued_at__gte=since)
                .select_related("merchant", "location")
                .order_by("-redeemed_at")
                .first()
            )
        if redemption is None:
            return Response({"status": "waiting", "message": "", "redeemed_at": None})
        where = redemption.location.name if redemption.location else redemption.merchant.name
        message = _("Used at %(place)s at %(time)s.") % {
            "place": where,
            "time": time_format(timezone.localtime(redemption.redeemed_at), "TIME_FORMAT"),
        }
        return Response({"status": "used", "message": message, "redeemed_at": redemption.redeemed_at})


class MyRedemptions(APIView):
    @extend_schema(responses=ResidentRedemptionSerializer(many=True), summary="The resident's own redemptions.")
    def get(self, request):
        resident = resident_for_user(user=request.user)
        rows = resident_redemptions(resident=resident)[:200] if resident else []
        return Response(ResidentRedemptionSerializer(rows, many=True).data)


class Verify(APIView):
    @extend_schema(
        request=VerifyRequestSerializer,
        responses={200: VerifyResponseSerializer, 400: REFUSED, 403: REFUSED, 429: REFUSED},
        summary="Partner staff: read a scanned or typed code; shows the benefit, tier and initial, or why not.",
    )
    def post(self, request):
        code = VERIFY_REQUEST.validated(request.data)["code"]
        try:
            result = redemption_verify(acting_user=request.user, text=code)
        except RedemptionError as error:
            return refusal_response(error)
        return Response(VERIFY_ANSWER.to_representation(result))


class Confirm(APIView):
    @extend_schema(
        request=ConfirmRequestSerializer,
        responses={201: RedemptionSerializer, 400: REFUSED, 403: REFUSED, 429: REFUSED},
        summary="Partner staff: redeem, exactly once. Idempotent per nonce: a retry returns the first answer.",
    )
    def post(self, request):
        data = CONFIRM_REQUEST.validated(request.data)
        try:
            redemption = redemption_confirm(acting_user=request.user, text=data["code"], nonce=data["nonce"])
        except RedemptionError as error:
            return refusal_response(error)
        return Response(CONFIRM_ANSWER.to_representation(redemption), status=status.HTTP_201_CREATED)


class MerchantRedemptions(APIView):
    @extend_schema(
        responses={200: RedemptionSerializer(many=True), 403: REFUSED},
        summary="Partner staff: the partner's latest 200 redemptions.",
    )
    def get(self, request):
        try:
            staff = staff_for(request.user)
        except RedemptionError as error:
            return refusal_response(error)
        rows = merchant_redemptions(merchant=staff.merchant)[:200]
        return Response(RedemptionSerializer(rows, many=True).data)
