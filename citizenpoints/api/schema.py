"""OpenAPI descriptions drf-spectacular cannot infer. Imported by the API modules so the extensions register."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "citizenpoints.api.ingest.ApiKeyAuthentication"
    name = "departmentApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A department's key, sent as `Authorization: Api-Key cp_<prefix>_<secret>`. Keys are "
            "issued by the credit office, shown once, and can be revoked.",
        }


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the whole API (see citizenpoints.api.exceptions)."""

    code = serializers.CharField(help_text="Stable, untranslated; match on this.")
    message = serializers.CharField(help_text="For people, in the request's language.")
    extra = serializers.DictField(help_text="Details that depend on the code.")

    class Meta:
        ref_name = "Error"
