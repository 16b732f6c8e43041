import pytest
from rest_framework.exceptions import NotAuthenticated

from citizenpoints.api.exceptions import application_error_handler
from citizenpoints.exceptions import ApplicationError


def test_application_errors_keep_their_stable_code():
    response = application_error_handler(ApplicationError("Too late", code="expired", extra={"at": 1}), {})
    assert response.status_code == 400
    assert response.data == {"code": "expired", "message": "Too late", "extra": {"at": 1}}


def test_drf_errors_take_the_same_shape():
    response = application_error_handler(NotAuthenticated(), {})
    assert response.status_code == 401
    assert response.data["code"] == "not_authenticated"


@pytest.mark.django_db
def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content
