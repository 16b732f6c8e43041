"""The inbox page: the resident's own notices, newest first, unread marked in words; reading never writes, opening
(a POST) marks one read, "Mark all as read" (a POST) marks them all; the header shows the unread count."""

import re

import pytest
from django.urls import reverse

from citizenpoints.models import Badge, Notification, Resident
from citizenpoints.services.notifications import notify
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


def badge_notice(resident):
    return notify(
        resident=resident, kind=Kind.BADGE_EARNED, params={"badge_id": Badge.objects.get(code="good-neighbour").pk}
    )


def appeal_notice(resident, due="2026-11-30"):
    return notify(resident=resident, kind=Kind.APPEAL_RECEIVED, params={"appeal_id": 0, "due_on": due})


@pytest.fixture
def mei(client):
    resident = ResidentFactory(given_name="Mei")
    client.force_login(resident.user)
    return resident


def unread_in_header(response) -> str | None:
    match = re.search(r'class="nav-count">(\d+)<', response.content.decode())
    return match.group(1) if match else None


def test_the_inbox_lists_only_my_notices_newest_first_and_reading_writes_nothing(client, mei):
    older = badge_notice(mei)
    newer = appeal_notice(mei)
    badge_notice(ResidentFactory())  # someone else's
    response = client.get(reverse("inbox"))
    assert response.status_code == 200
    items = response.context["notices"]
    assert [item.notice.pk for item in items] == [newer.pk, older.pk]
    page = response.content.decode()
    assert page.count('class="notice-new"') == 2 and "Unread" in page
    assert "We received your appeal" in page and "You earned a badge: 🏡 Good neighbour" in page
    assert unread_in_header(response) == "2"
    assert not Notification.objects.filter(read_at__isnull=False).exists()


def test_opening_a_notice_marks_it_read_and_takes_me_to_it(client, mei):
    notice = badge_notice(mei)
    other = appeal_notice(mei)
    assert client.get(reverse("inbox_open", args=[notice.pk])).status_code == 405  # a GET never writes
    response = client.post(reverse("inbox_open", args=[notice.pk]))
    assert response.status_code == 302 and response.url == reverse("home")
    notice.refresh_from_db()
    other.refresh_from_db()
    assert notice.read_at is not None and other.read_at is None
    assert unread_in_header(client.get(reverse("inbox"))) == "1"


def test_another_residents_notice_is_not_found(client, mei):
    theirs = badge_notice(ResidentFactory())
    assert client.post(reverse("inbox_open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_as_read_marks_only_mine(client, mei):
    mine = [badge_notice(mei), appeal_notice(mei)]
    theirs = badge_notice(ResidentFactory())
    response = client.post(reverse("inbox_read_all"), follow=True)
    assert "All your notices are marked as read." in response.content.decode()
    assert all(n.read_at for n in Notification.objects.filter(pk__in=[m.pk for m in mine]))
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert unread_in_header(response) is None
    assert 'class="notice-new"' not in response.content.decode()


def test_the_inbox_pages_by_20(client, mei):
    for n in range(25):
        appeal_notice(mei, due=f"2026-12-{n + 1:02d}")
    first = client.get(reverse("inbox"))
    assert len(first.context["notices"]) == 20
    second = client.get(reverse("inbox"), {"page": 2})
    assert len(second.context["notices"]) == 5
    assert "Newer notices" in second.content.decode()


def test_the_inbox_speaks_the_readers_language(client, mei):
    badge_notice(mei)
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "你获得了徽章：🏡 好邻居" in page and "收件箱" in page


def test_the_page_costs_the_same_queries_with_3_or_30_notices(client, mei, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        client.get(reverse("inbox"))  # warm up
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("inbox"))
        return len(queries)

    for _ in range(3):
        badge_notice(mei)
        appeal_notice(mei)
    few = count()
    for _ in range(12):
        badge_notice(mei)
        appeal_notice(mei)
    assert count() == few


def test_people_without_an_inbox_see_no_inbox_link(client):
    staff = UserFactory(roles=["reviewer"], mfa=True)
    client.force_login(staff)
    assert 'class="inbox-link"' not in client.get(reverse("catalogue")).content.decode()
    client.force_login(UserFactory())  # signed up, not joined
    assert 'class="inbox-link"' not in client.get(reverse("catalogue")).content.decode()
    assert reverse("inbox") not in client.get(reverse("catalogue")).content.decode()


def test_the_header_count_is_one_query(mei, django_assert_num_queries):
    from citizenpoints.services.notifications import notices_unread_count

    badge_notice(mei)
    with django_assert_num_queries(1):
        assert notices_unread_count(user=mei.user) == 1


def test_turning_email_off_and_on_in_the_profile(client, mei):
    page = client.get(reverse("profile")).content.decode()
    assert 'name="email_notices"' in page and "checked" in page
    response = client.post(reverse("profile"), {}, follow=True)
    assert "no more email" in response.content.decode()
    assert Resident.objects.get(pk=mei.pk).email_notices is False
    client.post(reverse("profile"), {"email_notices": "on"})
    assert Resident.objects.get(pk=mei.pk).email_notices is True
