"""Raw record browsing for superusers. Workflows (publishing, claims, appeals) have their own screens and
services; here the ledger, balances and audit trail are read-only so nothing bypasses those services."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from citizenpoints.models import (
    AuditEvent,
    Badge,
    Balance,
    Behaviour,
    CatalogueVersion,
    Category,
    ConsentRecord,
    DataSource,
    LedgerEntry,
    Resident,
    ResidentBadge,
    Tier,
    TierChange,
    TierScheme,
    User,
)
from citizenpoints.services.access import resident_file_open


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_staff", "is_superuser", "is_active", "date_joined"]
    search_fields = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


@admin.register(Resident)
class ResidentAdmin(ReadOnlyAdmin):
    list_display = ["id", "given_name", "language", "joined_at", "terms_version", "left_at"]
    search_fields = ["user__email"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Opening a resident's file is logged for the resident to see (their access log shows the role, not who)."""
        resident = self.get_object(request, object_id)
        if resident is not None and self.has_view_permission(request, resident):
            resident_file_open(acting_user=request.user, resident=resident)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ConsentRecord, TierChange, ResidentBadge, AuditEvent)
class HistoryAdmin(ReadOnlyAdmin):
    pass


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "resident_id", "seq", "kind", "behaviour_code", "points", "source", "occurred_at"]
    list_filter = ["kind", "source", "category"]
    list_select_related = ["source"]


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = ["resident_id", "points", "lifetime_points", "tier", "updated_at"]
    list_select_related = ["tier"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_zh", "position"]


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "kind", "is_active"]


@admin.register(CatalogueVersion)
class CatalogueVersionAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "published_at", "published_by"]


@admin.register(Behaviour)
class BehaviourAdmin(ReadOnlyAdmin):
    list_display = ["code", "version", "category", "name_en", "rule_kind"]
    list_filter = ["version", "category"]


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0


@admin.register(TierScheme)
class TierSchemeAdmin(ReadOnlyAdmin):
    list_display = ["code", "name_en", "base_score", "is_active"]
    inlines = [TierInline]


@admin.register(Badge)
class BadgeAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "metric", "threshold", "period_days", "is_active"]
