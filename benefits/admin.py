"""Read-only browsing for superusers. Onboarding, pausing and benefit changes go through benefits.services (audited);
redemptions only through the counter."""

from django.contrib import admin

from benefits.models import (
    Benefit,
    Merchant,
    MerchantLocation,
    MerchantStaff,
    Redemption,
    RedemptionDenial,
    RedemptionToken,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LocationInline(admin.TabularInline):
    model = MerchantLocation
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Merchant)
class MerchantAdmin(ReadOnlyAdmin):
    list_display = ["slug", "name_en", "name_zh", "category", "is_active", "onboarded_at"]
    list_filter = ["category", "is_active"]
    search_fields = ["slug", "name_en", "name_zh"]
    inlines = [LocationInline]


@admin.register(MerchantStaff)
class MerchantStaffAdmin(ReadOnlyAdmin):
    list_display = ["user", "merchant", "role", "location", "is_active"]
    list_select_related = ["user", "merchant", "location"]
    list_filter = ["role", "merchant"]


@admin.register(Benefit)
class BenefitAdmin(ReadOnlyAdmin):
    list_display = ["title_en", "merchant", "family", "min_tier", "quota", "used", "limit_count", "limit_period"]
    list_select_related = ["merchant", "min_tier"]
    list_filter = ["family", "is_active", "merchant"]


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["redeemed_at", "benefit", "merchant", "location", "staff", "tier"]
    list_select_related = ["benefit", "merchant", "location", "staff__user", "tier"]
    list_filter = ["merchant"]
    date_hierarchy = "redeemed_at"


@admin.register(RedemptionDenial)
class RedemptionDenialAdmin(ReadOnlyAdmin):
    list_display = ["at", "code", "step", "merchant", "staff"]
    list_select_related = ["merchant", "staff__user"]
    list_filter = ["code", "step"]


@admin.register(RedemptionToken)
class RedemptionTokenAdmin(ReadOnlyAdmin):
    list_display = ["code", "benefit", "issued_at", "expires_at", "verified_at", "used_at"]
    list_select_related = ["benefit"]
