from rest_framework import serializers

from benefits.models import Benefit, Redemption


class TierSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    name_en = serializers.CharField()
    name_zh = serializers.CharField()


class BenefitSerializer(serializers.ModelSerializer):
    merchant = serializers.CharField(source="merchant.name_en")
    merchant_zh = serializers.CharField(source="merchant.name_zh")
    min_tier = TierSerializer()
    remaining = serializers.IntegerField(allow_null=True, help_text="Units left of the total quota; null: no quota.")
    unlocked = serializers.SerializerMethodField(help_text="Whether the signed-in resident's tier unlocks it now.")

    class Meta:
        model = Benefit
        fields = [
            "id",
            "family",
            "title_en",
            "title_zh",
            "terms_en",
            "terms_zh",
            "merchant",
            "merchant_zh",
            "min_tier",
            "valid_from",
            "valid_until",
            "quota",
            "remaining",
            "limit_count",
            "limit_period",
            "unlocked",
        ]

    def get_unlocked(self, benefit) -> bool | None:
        tier = self.context.get("tier")
        if tier is None:
            return None
        return tier.scheme_id == benefit.min_tier.scheme_id and tier.min_score >= benefit.min_tier.min_score


class TokenSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The 8-character code.")
    short_code = serializers.CharField(help_text="The code as shown for typing, e.g. 7KQM-2F9X.")
    payload = serializers.CharField(help_text="What the QR encodes: the code and its signature (21 characters).")
    qr = serializers.CharField(help_text="The QR as a PNG data URI.")
    expires_at = serializers.DateTimeField()
    refresh_seconds = serializers.IntegerField(help_text="Ask for a new token this often while the QR is shown.")


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["waiting", "used"])
    message = serializers.CharField(allow_blank=True)
    redeemed_at = serializers.DateTimeField(allow_null=True)


class VerifyRequestSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40, help_text="The scanned QR text, or the typed 8-character code.")


class VerifyResponseSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Send this back to confirm.")
    benefit_id = serializers.IntegerField(source="benefit.pk")
    benefit_en = serializers.CharField(source="benefit.title_en")
    benefit_zh = serializers.CharField(source="benefit.title_zh")
    tier = TierSerializer()
    initial = serializers.CharField(help_text="The resident's initial: all a partner learns about them.")
    expires_at = serializers.DateTimeField()


class ConfirmRequestSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    nonce = serializers.RegexField(
        r"^[A-Za-z0-9_-]{8,64}$",
        help_text="A fresh random id per confirmation; a retry with the same nonce returns the first answer.",
    )


class RedemptionSerializer(serializers.ModelSerializer):
    benefit_en = serializers.CharField(source="benefit.title_en")
    benefit_zh = serializers.CharField(source="benefit.title_zh")
    tier = TierSerializer()
    initial = serializers.CharField(source="resident.initial")
    location = serializers.CharField(source="location.name_en", allow_null=True, default=None)

    class Meta:
        model = Redemption
        fields = ["id", "benefit_id", "benefit_en", "benefit_zh", "tier", "initial", "location", "redeemed_at"]


class ResidentRedemptionSerializer(serializers.ModelSerializer):
    benefit_en = serializers.CharField(source="benefit.title_en")
    benefit_zh = serializers.CharField(source="benefit.title_zh")
    merchant = serializers.CharField(source="merchant.name_en")
    merchant_zh = serializers.CharField(source="merchant.name_zh")

    class Meta:
        model = Redemption
        fields = ["id", "benefit_id", "benefit_en", "benefit_zh", "merchant", "merchant_zh", "redeemed_at"]


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable refusal code, e.g. already_used, expired, quota_exhausted.")
    message = serializers.CharField(help_text="The reason in the request's language.")
    extra = serializers.DictField()
