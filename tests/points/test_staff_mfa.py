import pytest
from django.urls import reverse

from citizenpoints.mfa import totp_current_code, totp_enrol
from citizenpoints.models import OfficeRole
from tests.factories import PASSWORD, ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_without_an_authenticator_is_sent_to_set_one_up(client):
    staff = UserFactory(roles=[OfficeRole.REVIEWER])
    client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")
    # allauth asks for the password again before enrolling a factor; then the setup page opens.
    setup = client.get(reverse("mfa_activate_totp"))
    assert setup.status_code == 302 and setup.url.startswith(reverse("account_reauthenticate"))
    client.post(setup.url, {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    assert "data:image/svg+xml" in page.content.decode()


def test_residents_are_offered_but_not_forced_into_mfa(client):
    resident = ResidentFactory()
    client.force_login(resident.user)
    assert client.get(reverse("home")).status_code == 200


def test_staff_sign_in_needs_the_right_code(client):
    staff = UserFactory(roles=[OfficeRole.AUDITOR])
    totp_enrol(user=staff)
    response = client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("mfa_authenticate")

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert wrong.status_code == 200
    assert "错误代码" in wrong.content.decode()
    assert "_auth_user_id" not in client.session

    right = client.post(reverse("mfa_authenticate"), {"code": totp_current_code(user=staff)})
    assert right.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_the_admin_signs_in_through_allauth(client):
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_superuser_without_mfa_cannot_reach_the_admin(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")
