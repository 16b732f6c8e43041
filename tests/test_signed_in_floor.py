"""The signed-in floor: a session's user, its groups and the header's answers come in one statement
(`citizenpoints.auth_backends`), and everything that depended on asking them one by one still holds: roles counted
from the next request, password changes signing out other sessions, the staff two-factor rule, the header's inbox
count and navigation in both languages, and sessions signed in under the backends' previous paths."""

import re

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from citizenpoints.auth_backends import account_facts, user_with_facts
from citizenpoints.mfa import totp_enrol
from citizenpoints.models import Badge, Notification, OfficeRole, User
from citizenpoints.services.notifications import notify
from citizenpoints.templatetags.notices import unread_notices
from tests.factories import PASSWORD, MerchantStaffFactory, ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

CACHED_SESSIONS = "django.contrib.sessions.backends.cached_db"  # production's, with REDIS_URL


def badge_notice(resident) -> Notification:
    badge = Badge.objects.get(code="good-neighbour")
    return notify(resident=resident, kind=Notification.Kind.BADGE_EARNED, params={"badge_id": badge.pk})


def unread_in_header(html: str) -> str | None:
    match = re.search(r'class="nav-count">(\d+)<', html)
    return match.group(1) if match else None


def main_nav(html: str) -> str:
    return re.search(r'<nav aria-label="[^"]*" class="site-nav">.*?</nav>', html, re.S).group(0)


def signed_in(client, user) -> str:
    """The terms page: base.html around static text, the cheapest page a signed-in user can open."""
    client.force_login(user)
    response = client.get(reverse("terms"))
    assert response.status_code == 200
    return response.content.decode()


# --- What the one statement loads -------------------------------------------------------------------------------------
def test_the_user_is_the_same_as_the_orm_loads_it_with_groups_and_facts(client):
    user = UserFactory(roles=[OfficeRole.REVIEWER, OfficeRole.AUDITOR], first_name="Lan", mfa=True)
    client.force_login(user)  # sets last_login: a date the vendor's converters must turn into an aware datetime
    loaded, expected = user_with_facts(user.pk), User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
    assert loaded.last_login is not None and loaded.last_login.tzinfo is not None
    assert sorted(group.name for group in loaded.groups.all()) == [OfficeRole.AUDITOR, OfficeRole.REVIEWER]
    assert account_facts(loaded).totp_enrolled and loaded.is_office_staff
    assert user_with_facts(user.pk + 1000) is None
    assert user_with_facts("not a number") is None


def test_roles_given_or_taken_during_a_request_count_at_once():
    """`office_roles` reads the groups loaded with the user; adding or removing one drops them, so it asks again."""
    user = user_with_facts(UserFactory(roles=[]).pk)
    assert user.office_roles == set() and not user.is_office_staff
    user.groups.add(Group.objects.get(name=OfficeRole.REVIEWER))
    assert user.office_roles == {OfficeRole.REVIEWER} and user.is_office_staff
    user.groups.clear()
    assert not user.is_office_staff


def test_a_resident_s_facts_count_only_their_unread_notices():
    resident = ResidentFactory()
    read = badge_notice(resident)
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)
    badge_notice(resident)
    badge_notice(resident)
    badge_notice(ResidentFactory())  # someone else's
    facts = account_facts(user_with_facts(resident.user.pk))
    assert facts.unread_notices == 2 and not facts.partner_staff and not facts.totp_enrolled
    assert account_facts(user_with_facts(UserFactory().pk)).unread_notices is None  # not joined: no inbox


@pytest.mark.postgres
def test_on_postgresql_the_statement_is_prepared_once_per_connection_unless_switched_off(settings):
    """Planning its joins and subqueries cost PostgreSQL more than running them; behind a pooler in transaction
    mode prepared statements must be off, with the same switch as the counter's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = UserFactory()
    user_with_facts(user.pk)
    with CaptureQueriesContext(connection) as queries:
        assert user_with_facts(user.pk) == user
    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["EXECUTE"]
    settings.PREPARED_STATEMENTS = False
    with CaptureQueriesContext(connection) as queries:
        assert user_with_facts(user.pk) == user
    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["SELECT"]


# --- Queries of a signed-in page, pinned ------------------------------------------------------------------------------
def test_a_resident_s_signed_in_page_is_one_query(client, settings, django_assert_num_queries):
    settings.SESSION_ENGINE = CACHED_SESSIONS
    resident = ResidentFactory()
    badge_notice(resident)
    signed_in(client, resident.user)
    with django_assert_num_queries(1):  # the user, its groups, unread notices, partner staff, TOTP: one statement
        html = client.get(reverse("terms")).content.decode()
    assert unread_in_header(html) == "1"


def test_office_staff_s_signed_in_page_is_one_query(client, settings, django_assert_num_queries):
    settings.SESSION_ENGINE = CACHED_SESSIONS
    signed_in(client, UserFactory(roles=[OfficeRole.REVIEWER], mfa=True))
    with django_assert_num_queries(1):  # the two-factor check reads the TOTP fact, not the authenticators
        html = client.get(reverse("terms")).content.decode()
    assert "Credit office" in main_nav(html)


def test_partner_staff_s_signed_in_page_is_one_query_with_the_counter_link(client, settings, django_assert_num_queries):
    settings.SESSION_ENGINE = CACHED_SESSIONS
    signed_in(client, MerchantStaffFactory().user)
    with django_assert_num_queries(1):  # the Counter link reads `is_partner_staff`, answered with the user
        html = client.get(reverse("terms")).content.decode()
    assert reverse("benefits:counter") in main_nav(html)


# --- Roles, passwords, inactive accounts: counted from the next request -----------------------------------------------
def test_a_role_given_or_taken_away_shows_in_the_header_on_the_next_request(client):
    resident = ResidentFactory()
    totp_enrol(user=resident.user)  # so the new role is not stopped at the two-factor setup first
    assert "My points" in main_nav(signed_in(client, resident.user))
    reviewers = Group.objects.get(name=OfficeRole.REVIEWER)
    resident.user.groups.add(reviewers)
    html = client.get(reverse("terms")).content.decode()
    assert "Credit office" in main_nav(html) and "My points" not in main_nav(html)
    assert 'class="inbox-link"' not in html  # staff have no inbox
    resident.user.groups.remove(reviewers)
    html = client.get(reverse("terms")).content.decode()
    assert "My points" in main_nav(html) and 'class="inbox-link"' in html


def test_a_password_change_signs_out_the_other_sessions_not_this_one(client):
    from django.test import Client

    resident = ResidentFactory()
    here, elsewhere = client, Client()
    signed_in(here, resident.user)
    signed_in(elsewhere, resident.user)
    new = "another-Long-passw0rd"
    response = here.post(
        reverse("account_change_password"), {"oldpassword": PASSWORD, "password1": new, "password2": new}
    )
    assert response.status_code == 302
    assert here.get(reverse("home")).status_code == 200
    away = elsewhere.get(reverse("home"))
    assert away.status_code == 302 and away.url.startswith(reverse("account_login"))


def test_a_password_set_elsewhere_signs_out_every_session(client):
    resident = ResidentFactory()
    signed_in(client, resident.user)
    resident.user.set_password("set-by-a-reset-passw0rd")
    resident.user.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))


def test_a_deactivated_account_is_signed_out_on_its_next_request(client):
    resident = ResidentFactory()
    signed_in(client, resident.user)
    User.objects.filter(pk=resident.user.pk).update(is_active=False)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))


# --- The staff two-factor rule ----------------------------------------------------------------------------------------
def test_staff_without_an_authenticator_are_sent_to_set_one_up_and_with_one_are_not(client):
    staff = UserFactory(roles=[OfficeRole.AUDITOR])
    client.force_login(staff)
    response = client.get(reverse("terms"))
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")
    totp_enrol(user=staff)
    assert client.get(reverse("terms")).status_code == 200


def test_superusers_without_an_authenticator_are_sent_to_set_one_up(client):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.get(reverse("catalogue"))
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")


# --- The header, in both languages ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "inbox", "unread", "mine"),
    [("en", "Inbox", "unread", "My points"), ("zh-hans", "收件箱", "条未读", "我的积分")],
)
def test_the_header_shows_the_unread_count_and_the_resident_s_navigation(client, language, inbox, unread, mine):
    resident = ResidentFactory()
    badge_notice(resident)
    badge_notice(resident)
    client.cookies["django_language"] = language
    html = signed_in(client, resident.user)
    assert unread_in_header(html) == "2"
    assert f'{inbox} <span class="nav-count">2<span class="visually-hidden"> {unread}</span></span></a>' in html
    assert mine in main_nav(html)
    assert reverse("benefits:counter") not in main_nav(html)
    client.post(reverse("inbox_read_all"))
    html = client.get(reverse("terms")).content.decode()
    assert unread_in_header(html) is None and f">{inbox}</a>" in html


def test_a_page_rendered_after_a_write_counts_the_notices_again():
    """The facts are as of the start of the request: a POST that renders a page (a form with errors) may have
    changed them, so the header asks the database; a GET trusts them."""
    resident = ResidentFactory()
    user = user_with_facts(resident.user.pk)
    badge_notice(resident)  # after the user was loaded, as a write in the request would be
    for method, expected in (("post", 1), ("get", 0)):
        request = getattr(RequestFactory(), method)("/terms/")
        request.user = user
        assert unread_notices({"request": request}) == expected


# --- Sessions signed in under the backends' previous paths ------------------------------------------------------------
@pytest.mark.parametrize(
    "old_path", ["django.contrib.auth.backends.ModelBackend", "allauth.account.auth_backends.AuthenticationBackend"]
)
def test_a_session_from_before_the_backends_were_subclassed_stays_signed_in(client, old_path):
    resident = ResidentFactory()
    client.force_login(resident.user, backend=old_path)
    assert client.session[BACKEND_SESSION_KEY] == old_path
    assert client.get(reverse("home")).status_code == 200
    assert client.session[BACKEND_SESSION_KEY].startswith("citizenpoints.auth_backends.")


def test_a_session_naming_an_unknown_backend_is_signed_out(client):
    client.force_login(ResidentFactory().user, backend="somewhere.else.Backend")
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))


def test_signing_in_with_a_password_records_a_configured_backend(client, settings):
    resident = ResidentFactory()
    response = client.post(reverse("account_login"), {"login": resident.user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] in settings.AUTHENTICATION_BACKENDS
    assert client.get(reverse("home")).status_code == 200


# --- The chrome's cached fragments (base.html) ------------------------------------------------------------------------
def test_the_cached_navigation_follows_the_page_the_user_and_the_language(client):
    resident = ResidentFactory()
    staff = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    for user, mine in ((staff, "Credit office"), (resident.user, "My points"), (staff, "Credit office")):
        client.force_login(user)
        for page, current in (("catalogue", "Catalogue"), ("tiers", "Tiers"), ("terms", None)):
            nav = main_nav(client.get(reverse(page)).content.decode())
            assert mine in nav
            marked = re.findall(r'aria-current="page">([^<]+)<', nav)
            assert marked == ([current] if current else []), (user, page, marked)
    client.cookies["django_language"] = "zh-hans"
    assert "信用办" in main_nav(client.get(reverse("catalogue")).content.decode())
    client.logout()  # and forgets the cookies
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("catalogue")).content.decode()
    assert "登录" in html and "信用办" not in main_nav(html) and "我的积分" not in main_nav(html)


def test_every_form_of_the_chrome_carries_this_request_s_csrf_token(client):
    """The sign-out and language forms stay outside the cached fragments: their tokens are masked per request and
    accepted when posted."""
    from django.test import Client

    resident = ResidentFactory()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(resident.user)
    tokens = []
    for _ in range(2):
        html = strict.get(reverse("terms")).content.decode()
        tokens.append(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    assert len(tokens[0]) == len(tokens[1]) == 2  # sign out, language
    assert not set(tokens[0]) & set(tokens[1])
    switched = strict.post(
        reverse("set_language"), {"language": "zh-hans", "next": "/terms/", "csrfmiddlewaretoken": tokens[1][1]}
    )
    assert switched.status_code == 302
    assert "退出" in strict.get(reverse("terms")).content.decode()
    signed_out = strict.post(reverse("account_logout"), {"csrfmiddlewaretoken": tokens[1][0]})
    assert signed_out.status_code == 302
    assert strict.get(reverse("home")).status_code == 302


def test_is_partner_staff_without_the_sign_in_facts_asks_the_database():
    staff = MerchantStaffFactory().user
    assert User.objects.get(pk=staff.pk).is_partner_staff
    assert not User.objects.get(pk=ResidentFactory().user.pk).is_partner_staff


# --- The database connection's health check -----------------------------------------------------------------------
def _served(handler, path: str) -> int:
    """One request through the WSGI handler as a server runs it (request_started checks the connection; the test
    client skips that)."""
    import io
    import sys

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    statuses = []
    response = handler(environ, lambda status, headers, *rest: statuses.append(status))
    b"".join(response)
    response.close()  # request_finished, as a server sends it
    return int(statuses[0].split()[0])


def _backend_pid(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_used_moments_ago_is_not_pinged_and_a_closed_or_idle_one_still_is(monkeypatch):
    """ConnectionHealthMiddleware spares the SELECT 1 only where it could not find anything: a connection the server
    ended since the last request, or one idle long enough for a firewall to drop it, is pinged and replaced."""
    import select

    import psycopg
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from citizenpoints.middleware import ConnectionHealthMiddleware

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # persistent, as in production
    connection.close()
    pings = []
    real_is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: pings.append(1) or real_is_usable())
    handler = WSGIHandler()
    try:
        assert _served(handler, "/healthz") == 200  # opens the connection
        first = _backend_pid(connection)  # (outside a request: Django pings first)
        assert _served(handler, "/healthz") == 200  # marks the connection used
        pings.clear()
        assert [_served(handler, "/healthz") for _ in range(3)] == [200] * 3
        assert pings == []  # never pinged
        assert _backend_pid(connection) == first  # the same connection
        # Requests that send no query do not count as use: the connection stays as old as its last query.
        used_at = connection.connection._citypoints_used_at
        assert _served(handler, "/static/nothing-here.css") == 404
        assert connection.connection._citypoints_used_at == used_at

        settings = connection.settings_dict
        with psycopg.connect(
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            dbname=settings["NAME"],
            autocommit=True,
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [first])
        poller = select.poll()
        poller.register(connection.connection.pgconn.socket, select.POLLIN)
        assert poller.poll(5000)  # the server's goodbye has arrived
        pings.clear()
        assert _served(handler, "/healthz") == 200  # not a 500: pinged, found closed, replaced
        assert len(pings) == 1
        assert _backend_pid(connection) != first

        monkeypatch.setattr(ConnectionHealthMiddleware, "RECENT_SECONDS", 0.0)  # every connection counts as idle
        assert _served(handler, "/healthz") == 200  # marks it used (the pid query above pinged it outside)
        pings.clear()
        assert _served(handler, "/healthz") == 200
        assert len(pings) == 1
    finally:
        connection.close()
