"""The daily digest: one notice and one email per resident for the awards recorded on a local day; re-runs add
nothing; single awards are never mailed one by one; the number of queries does not grow with the residents."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from citizenpoints.models import LedgerEntry, Notification, OfficeRole
from citizenpoints.services.leaving import resident_leave
from citizenpoints.services.notifications import notices_word, points_digest_create, yesterday_local
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.tasks import points_digest
from tests.factories import ResidentFactory, UserFactory
from tests.notifications.conftest import grant

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
DAY = datetime.date(2026, 11, 20)


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def award_at(resident, external_id, when, code="loan"):
    """An award recorded at `when` (local), for something done an hour before."""
    return grant(resident, external_id, code=code, occurred_at=when - datetime.timedelta(hours=1), now=when)


@pytest.fixture
def day_of_awards(catalogue):
    reader, volunteer, leaver, quiet = (ResidentFactory(language=lang) for lang in ("en", "zh-hans", "en", "en"))
    award_at(reader, "r1", at(DAY, 0, 30))  # just after local midnight (16:30 UTC the day before)
    award_at(reader, "r2", at(DAY, 12))
    award_at(reader, "r3", at(DAY, 23, 50))
    award_at(reader, "r-next", at(DAY + datetime.timedelta(days=1), 0, 10))  # the next local day
    award_at(reader, "r-before", at(DAY, 0) - datetime.timedelta(minutes=5))  # the day before
    award_at(volunteer, "v1", at(DAY, 9), code="volunteer")
    taken_back = award_at(volunteer, "v2", at(DAY, 10))
    with time_machine.travel(at(DAY, 11), tick=False):
        entry_reverse(entry=taken_back.entry, acting_user=UserFactory(roles=[OfficeRole.REVIEWER]), reason="Sent twice")
    award_at(leaver, "x1", at(DAY, 9))
    resident_leave(resident=leaver, acting_user=leaver.user)
    return reader, volunteer, leaver, quiet


def test_one_notice_per_resident_with_the_days_awards(day_of_awards):
    reader, volunteer, _leaver, _quiet = day_of_awards
    Notification.objects.exclude(kind="points_digest").delete()  # tier and correction notices are not the point
    assert points_digest_create(day=DAY) == 2
    digests = {n.resident_id: n for n in Notification.objects.filter(kind="points_digest")}
    assert set(digests) == {reader.pk, volunteer.pk}  # nobody who left, nobody without awards
    assert digests[reader.pk].params["count"] == 3
    assert Decimal(digests[reader.pk].params["points"]) == Decimal(3)  # "3.00" on PostgreSQL, "3.0" on SQLite
    # Awards only: the 1-point award taken back the same day still counts as received; the correction is told apart.
    assert digests[volunteer.pk].params["count"] == 2
    assert Decimal(digests[volunteer.pk].params["points"]) == Decimal(61)
    assert all(n.digest_date == DAY for n in digests.values())
    with translation.override("en"):
        worded = notices_word([digests[reader.pk]])[0]
    assert (worded.title, worded.body[0]) == ("You received 3 points", "From 3 records on Nov. 20, 2026.")


def test_running_it_again_adds_nothing(day_of_awards):
    assert points_digest_create(day=DAY) == 2
    assert points_digest_create(day=DAY) == 0
    assert Notification.objects.filter(kind="points_digest").count() == 2
    assert points_digest_create(day=DAY + datetime.timedelta(days=1)) == 1  # the reader's next day: a new notice


def test_single_awards_are_never_mailed_but_the_digest_is_once_each(catalogue, django_capture_on_commit_callbacks):
    reader, other = ResidentFactory(language="en"), ResidentFactory(language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            award_at(reader, f"r{n}", at(DAY, 8 + n))
        award_at(other, "o1", at(DAY, 8))
    assert mail.outbox == []  # five metro rides, no mail
    with django_capture_on_commit_callbacks(execute=True):
        points_digest_create(day=DAY)
    assert sorted(m.subject for m in mail.outbox) == ["[CityPoints] You received 5 points", "[城市积分] 你获得了 1 分"]
    with django_capture_on_commit_callbacks(execute=True):
        points_digest_create(day=DAY)
    assert len(mail.outbox) == 2


def test_the_task_sums_up_yesterday_by_default(catalogue, django_capture_on_commit_callbacks):
    resident = ResidentFactory()
    award_at(resident, "r1", at(DAY, 15))
    with time_machine.travel(at(DAY + datetime.timedelta(days=1), 7, 30), tick=False):
        assert yesterday_local() == DAY
        with django_capture_on_commit_callbacks(execute=True):
            assert points_digest.delay().get() == {"day": "2026-11-20", "digests": 1}
    assert len(mail.outbox) == 1
    assert points_digest.delay(day="2026-11-20").get() == {"day": "2026-11-20", "digests": 0}


def _digest_queries(residents: int, prefix: str, day: datetime.date) -> int:
    for n in range(residents):
        award_at(ResidentFactory(), f"{prefix}{n}", at(day, 10))
    with CaptureQueriesContext(connection) as queries:
        assert points_digest_create(day=day) == residents
    return len(queries)


def test_the_digest_takes_the_same_number_of_queries_for_2_or_20_residents(catalogue):
    assert _digest_queries(2, "a", DAY) == _digest_queries(20, "b", DAY - datetime.timedelta(days=1))
    assert LedgerEntry.objects.count() == 22


def test_the_digest_is_scheduled_each_morning():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["points-digest"]
    assert entry["task"] == points_digest.name
    assert entry["schedule"].hour == {7} and entry["schedule"].minute == {30}
