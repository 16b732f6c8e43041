"""Appeal deadlines count the office's working days: weekdays, less public holidays, plus make-up working days."""

import datetime

import pytest

from citizenpoints.models import CalendarDay, OfficeRole
from citizenpoints.services.calendar import (
    appeal_due_on,
    appeal_received_on,
    calendar_day_remove,
    calendar_day_save,
    china_holidays_load,
    is_working_day,
    working_days_add,
    working_days_between,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
D = datetime.date.fromisoformat


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def holidays():
    assert china_holidays_load() > 0


def test_an_ordinary_week_skips_the_weekend():
    assert working_days_add(D("2026-11-16"), 5) == D("2026-11-23")  # Monday + 5 = next Monday
    assert working_days_add(D("2026-11-20"), 1) == D("2026-11-23")  # Friday + 1 = Monday
    assert working_days_add(D("2026-11-21"), 1) == D("2026-11-23")  # from a Saturday too
    assert working_days_add(D("2026-11-16"), 0) == D("2026-11-16")
    assert working_days_between(D("2026-11-16"), D("2026-11-23")) == 5
    assert working_days_between(D("2026-11-23"), D("2026-11-16")) == -5


def test_a_holiday_on_a_weekday_is_not_a_working_day(holidays):
    assert not is_working_day(D("2026-10-01"))  # National Day, a Thursday
    # Wednesday 30 September + 1: 1 to 7 October are the holiday, Thursday the 8th is the first working day.
    assert working_days_add(D("2026-09-30"), 1) == D("2026-10-08")
    assert working_days_between(D("2026-09-30"), D("2026-10-08")) == 1


def test_a_make_up_saturday_is_a_working_day(holidays):
    assert is_working_day(D("2026-02-14"))  # Saturday worked before the Spring Festival
    assert working_days_add(D("2026-02-13"), 1) == D("2026-02-14")
    # Then nine days of Spring Festival (15 to 23 February): the 2nd working day is Tuesday the 24th.
    assert working_days_add(D("2026-02-13"), 2) == D("2026-02-24")
    assert working_days_add(D("2026-10-08"), 2) == D("2026-10-10")  # Thursday, Friday, then make-up Saturday


def test_between_is_the_inverse_of_add_across_a_year_of_holidays(holidays):
    start = D("2026-01-01")
    for offset in range(0, 365, 3):
        day = start + datetime.timedelta(days=offset)
        for n in (1, 5, 12):
            assert working_days_between(day, working_days_add(day, n)) == n


def test_an_appeal_filed_on_a_working_morning_counts_from_that_day():
    filed = at("2026-11-16T10:00")  # Monday
    assert appeal_received_on(filed) == D("2026-11-16")
    assert appeal_due_on(filed) == D("2026-11-23")


def test_an_appeal_filed_on_friday_evening_counts_from_monday():
    assert appeal_received_on(at("2026-11-20T16:59")) == D("2026-11-20")
    assert appeal_due_on(at("2026-11-20T16:59")) == D("2026-11-27")
    assert appeal_received_on(at("2026-11-20T18:30")) == D("2026-11-23")
    assert appeal_due_on(at("2026-11-20T18:30")) == D("2026-11-30")


def test_the_local_date_decides_not_the_utc_date():
    # 17:30 UTC on Friday is 01:30 on Saturday in Shanghai: received Monday.
    filed = datetime.datetime(2026, 11, 20, 17, 30, tzinfo=datetime.UTC)
    assert appeal_received_on(filed) == D("2026-11-23")
    # 23:30 UTC on Sunday is 07:30 on Monday in Shanghai: received that Monday.
    assert appeal_received_on(datetime.datetime(2026, 11, 22, 23, 30, tzinfo=datetime.UTC)) == D("2026-11-23")


def test_an_appeal_filed_on_a_holiday_counts_from_the_next_working_day(holidays):
    filed = at("2026-10-01T10:00")  # National Day
    assert appeal_received_on(filed) == D("2026-10-08")
    # 9 Oct (Fri), 10 Oct (make-up Saturday), 12, 13, 14 Oct.
    assert appeal_due_on(filed) == D("2026-10-14")
    # Filed the morning before the Spring Festival: Saturday the 14th is worked, then nothing until the 24th.
    assert appeal_due_on(at("2026-02-13T11:00")) == D("2026-02-27")


def test_the_number_of_working_days_is_a_setting(settings):
    settings.CITYPOINTS_APPEAL_WORKING_DAYS = 3
    assert appeal_due_on(at("2026-11-16T10:00")) == D("2026-11-19")
    settings.CITYPOINTS_OFFICE_CLOSES_AT = "09:00"
    assert appeal_due_on(at("2026-11-16T10:00")) == D("2026-11-20")


def test_the_demo_holidays_load_once_and_keep_the_office_s_changes(holidays):
    CalendarDay.objects.filter(date=D("2026-10-08")).delete()
    CalendarDay.objects.create(date=D("2026-12-31"), is_working_day=False, name_en="Office closure", name_zh="停业")
    count = CalendarDay.objects.count()
    assert china_holidays_load() == 0
    assert CalendarDay.objects.count() == count


def test_reviewers_keep_the_calendar_and_others_may_not():
    reviewer = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    day = calendar_day_save(
        acting_user=reviewer, date=D("2026-12-31"), is_working_day=False, name_en="Closure", name_zh="停业"
    )
    assert not is_working_day(D("2026-12-31"))
    calendar_day_save(
        acting_user=reviewer, day=day, date=D("2026-12-31"), is_working_day=False, name_en="Year end", name_zh="年末"
    )
    from citizenpoints.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        calendar_day_save(acting_user=reviewer, date=D("2026-12-30"), is_working_day=True, name_en="x", name_zh="x")
    assert refused.value.code == "not_an_exception"
    with pytest.raises(ApplicationError) as refused:
        calendar_day_save(acting_user=reviewer, date=D("2026-12-31"), is_working_day=False, name_en="x", name_zh="x")
    assert refused.value.code == "already_listed"
    auditor = UserFactory(roles=[OfficeRole.AUDITOR], mfa=True)
    with pytest.raises(ApplicationError) as refused:
        calendar_day_remove(acting_user=auditor, day=day)
    assert refused.value.code == "permission_denied"
    calendar_day_remove(acting_user=reviewer, day=day)
    assert is_working_day(D("2026-12-31"))
    from citizenpoints.models import AuditEvent

    assert list(AuditEvent.objects.filter(object_type="citizenpoints.calendarday").values_list("action", flat=True)
                .order_by("id")) == ["calendar.add", "calendar.change", "calendar.remove"]  # fmt: skip
