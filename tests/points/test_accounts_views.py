"""Sign-up, verification, joining and language through the test client, with the bad input the issue lists."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from citizenpoints.models import Resident, User
from citizenpoints.services.residents import current_terms_version
from tests.factories import PASSWORD, ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans,zh;q=0.9"}


def signup(client, email="new@example.org", password=PASSWORD, **headers):
    return client.post(
        reverse("account_signup"), {"email": email, "password1": password, "password2": password}, **headers
    )


def test_landing_page_is_public_and_in_both_languages(client):
    english = client.get("/")
    assert english.status_code == 200
    assert b'lang="en"' in english.content
    assert "Points for doing good in your city" in english.content.decode()

    chinese = client.get("/", **CHINESE)
    assert b'lang="zh-Hans"' in chinese.content
    assert "做好事，赚积分" in chinese.content.decode()


def test_every_page_carries_a_strict_csp(client):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


def test_signup_verify_join_profile(client):
    response = signup(client)
    assert response.status_code == 302
    user = User.objects.get(email="new@example.org")
    assert not EmailAddress.objects.get(user=user).verified

    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", mail.outbox[0].body).group(0)
    key_path = link.split("testserver", 1)[1]
    response = client.post(key_path)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified

    # Logged in by confirmation; not joined yet, so the profile sends them to the join step.
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url == reverse("join")
    assert not Resident.objects.filter(user=user).exists()

    response = client.post(
        reverse("join"),
        {"given_name": "Mei", "language": "en", "terms_version": current_terms_version(), "consent": "on"},
    )
    assert response.status_code == 302
    profile = client.get(reverse("home"))
    assert "Hello, Mei" in profile.content.decode()
    assert current_terms_version() in profile.content.decode()


def test_signup_with_a_taken_email_creates_nothing(client):
    UserFactory(email="taken@example.org")
    response = signup(client, email="taken@example.org", **CHINESE)
    # allauth prevents enumeration: the same "check your email" answer, and the owner gets a warning mail.
    assert response.status_code == 302
    assert User.objects.filter(email="taken@example.org").count() == 1
    assert "taken@example.org" in mail.outbox[0].to


def test_signup_with_a_weak_password_explains_in_the_users_language(client):
    response = signup(client, password="123456", **CHINESE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "密码" in page and ("太常见" in page or "太短" in page)
    assert not User.objects.exists()


def test_join_without_consent_is_refused_with_a_clear_message(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("join"), {"given_name": "Mei", "language": "en", "terms_version": current_terms_version()}
    )
    assert response.status_code == 200
    assert "tick the box" in response.content.decode()
    assert not Resident.objects.exists()


def test_join_with_outdated_terms_asks_again(client):
    client.force_login(UserFactory())
    response = client.post(
        reverse("join"),
        {"given_name": "Mei", "language": "en", "terms_version": "2001-01", "consent": "on"},
        **CHINESE,
    )
    assert response.status_code == 200
    assert "条款已更新" in response.content.decode()
    assert not Resident.objects.exists()


def test_join_page_shows_the_terms_in_plain_words(client):
    client.force_login(UserFactory())
    page = client.get(reverse("join")).content.decode()
    for heading in [
        "What we record",
        "Where records come from",
        "What it is used for",
        "How long we keep it",
    ]:
        assert heading in page
    assert "Your rights" in page


def test_old_terms_stay_readable_and_unknown_versions_are_404(client):
    assert client.get(reverse("terms_version", args=[current_terms_version()])).status_code == 200
    assert client.get("/terms/..%2F..%2Fsettings/").status_code == 404
    assert client.get(reverse("terms_version", args=["1999-01"])).status_code == 404


@pytest.mark.parametrize("cookie", ["xx", "zh-hans\r\nSet-Cookie: evil=1", "../../etc/passwd", "é" * 50])
def test_a_tampered_language_cookie_falls_back_to_a_real_language(client, cookie):
    client.cookies["django_language"] = cookie
    response = client.get("/")
    assert response.status_code == 200
    assert b'lang="en"' in response.content


def test_switching_language_is_remembered_for_the_residents_messages(client):
    resident = ResidentFactory(language="en")
    client.force_login(resident.user)
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/me/"})
    assert response.status_code == 302
    resident.refresh_from_db()
    assert resident.language == "zh-hans"
    assert "你好" in client.get(reverse("home")).content.decode()


def test_switching_to_an_unknown_language_changes_nothing(client):
    resident = ResidentFactory(language="en")
    client.force_login(resident.user)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    resident.refresh_from_db()
    assert resident.language == "en"


def test_login_restores_the_residents_language(client):
    resident = ResidentFactory(language="zh-hans")
    client.post(reverse("account_login"), {"login": resident.user.email, "password": PASSWORD})
    assert client.cookies["django_language"].value == "zh-hans"


def test_login_is_rate_limited_after_repeated_failures(client):
    user = UserFactory()
    for _ in range(5):
        client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password"})
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    # Even the right password is refused until the window passes, and the person is told why.
    assert "登录失败次数过多" in response.content.decode()
    assert "_auth_user_id" not in client.session
