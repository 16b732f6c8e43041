"""Working days of the credit office, for appeal deadlines.

A date is a working day when it is Monday to Friday, unless a CalendarDay row says otherwise: a public holiday on a
weekday is not a working day, and a weekend day made a working day (China's 调休 make-up days) is one. Dates are the
office's local dates (settings.TIME_ZONE, Asia/Shanghai), never UTC dates.

The filing rule (`appeal_received_on`): an appeal filed on a working day before the office closes
(CITYPOINTS_OFFICE_CLOSES_AT, 17:00 local) is received that day; one filed later, or on a day the office does not
work, is received on the next working day. The deadline is the Nth working day after the day received (N =
CITYPOINTS_APPEAL_WORKING_DAYS, default 5): filed Monday 10:00, due the next Monday; filed Friday 18:00, received
Monday, due the Monday after.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import CalendarDay, OfficeRole, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.permissions import require_role
from citizenpoints.services.scoring import local_zone

ONE_DAY = datetime.timedelta(days=1)
# The longest run of days off China has (a 9-day Spring Festival plus its weekends) is far below this: a batch of
# rows this long always holds the next working day.
_CHUNK_DAYS = 62
# Who keeps the office calendar: reviewers, whose deadlines it sets and who know when the office is shut.
CALENDAR_ROLE = OfficeRole.REVIEWER


def office_closes_at() -> datetime.time:
    hours, minutes = (int(part) for part in settings.CITYPOINTS_OFFICE_CLOSES_AT.split(":"))
    return datetime.time(hours, minutes)


def _exceptions(start: datetime.date, end: datetime.date) -> dict[datetime.date, bool]:
    """CalendarDay rows from `start` to `end` inclusive: date → whether the office works."""
    return dict(CalendarDay.objects.filter(date__gte=start, date__lte=end).values_list("date", "is_working_day"))


def _is_working(day: datetime.date, exceptions: dict[datetime.date, bool]) -> bool:
    if day in exceptions:
        return exceptions[day]
    return day.weekday() < 5


def is_working_day(day: datetime.date) -> bool:
    return _is_working(day, _exceptions(day, day))


def working_days_add(start: datetime.date, n: int) -> datetime.date:
    """The `n`th working day after `start` (`start` itself never counts; n = 0 returns `start`). One query per two
    months of calendar walked."""
    if n < 0:
        raise ValueError("n must not be negative")
    day, left = start, n
    while left:
        chunk_end = day + datetime.timedelta(days=_CHUNK_DAYS)
        exceptions = _exceptions(day + ONE_DAY, chunk_end)
        while left and day < chunk_end:
            day += ONE_DAY
            if _is_working(day, exceptions):
                left -= 1
    return day


def next_working_day(after: datetime.date) -> datetime.date:
    return working_days_add(after, 1)


def working_days_between(a: datetime.date, b: datetime.date) -> int:
    """Working days d with a < d <= b (so `working_days_between(a, working_days_add(a, n)) == n`); negative when b is
    before a. One query."""
    if b < a:
        return -working_days_between(b, a)
    exceptions = _exceptions(a + ONE_DAY, b)
    count, day = 0, a
    while day < b:
        day += ONE_DAY
        count += _is_working(day, exceptions)
    return count


def local_date(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(local_zone()).date()


def appeal_received_on(filed_at: datetime.datetime) -> datetime.date:
    """The working day an appeal filed at `filed_at` counts from (see the module docstring)."""
    local = filed_at.astimezone(local_zone())
    day = local.date()
    if is_working_day(day) and local.time() < office_closes_at():
        return day
    return next_working_day(day)


def appeal_due_on(filed_at: datetime.datetime, working_days: int | None = None) -> datetime.date:
    """The last day for the decision: the Nth working day after the day the appeal counts as received."""
    n = settings.CITYPOINTS_APPEAL_WORKING_DAYS if working_days is None else working_days
    return working_days_add(appeal_received_on(filed_at), n)


def local_today(now: datetime.datetime | None = None) -> datetime.date:
    return local_date(now or timezone.now())


# --- The office screen's writes.
def _calendar_snapshot(day: CalendarDay) -> dict:
    return {
        "date": day.date.isoformat(),
        "is_working_day": day.is_working_day,
        "name_en": day.name_en,
        "name_zh": day.name_zh,
    }


def calendar_day_save(
    *,
    acting_user: User,
    date: datetime.date,
    is_working_day: bool,
    name_en: str,
    name_zh: str,
    day: CalendarDay | None = None,
) -> CalendarDay:
    """Add a day (or change `day`). Refuses `not_an_exception` for a working weekday: it would change nothing and is
    most likely a holiday entered the wrong way round (a holiday on a weekend is kept: it shows the whole break).
    Appeals already filed keep their deadlines: a resident was told that date."""
    require_role(acting_user, CALENDAR_ROLE)
    name_en, name_zh = (name_en or "").strip(), (name_zh or "").strip()
    if not name_en or not name_zh:
        raise ApplicationError(_("Name the day in English and in Chinese."), code="name_required")
    if is_working_day and date.weekday() < 5:
        raise ApplicationError(
            _("%(date)s is a weekday: the office works it anyway. Add a weekday only as a day off.")
            % {"date": date.isoformat()},
            code="not_an_exception",
        )
    with transaction.atomic():
        if CalendarDay.objects.filter(date=date).exclude(pk=day.pk if day else None).exists():
            raise ApplicationError(
                _("%(date)s is already in the calendar.") % {"date": date.isoformat()}, code="already_listed"
            )
        before = _calendar_snapshot(day) if day else None
        day = day or CalendarDay()
        day.date, day.is_working_day, day.name_en, day.name_zh = date, is_working_day, name_en, name_zh
        day.save()
        audit_record(
            actor=acting_user,
            action="calendar.change" if before else "calendar.add",
            obj=day,
            before=before,
            after=_calendar_snapshot(day),
        )
    return day


def calendar_day_remove(*, acting_user: User, day: CalendarDay) -> None:
    require_role(acting_user, CALENDAR_ROLE)
    with transaction.atomic():
        audit_record(actor=acting_user, action="calendar.remove", obj=day, before=_calendar_snapshot(day))
        day.delete()


# --- Mainland China's public holidays (国务院办公厅 notices), loaded by the demo and available to a data load.
# (date, works, English, Chinese). 2026: the State Council's notice of November 2025, with its make-up working days.
# 2027: only the statutory days of the 2025 holiday rules (元旦 1, 春节 4 from New Year's Eve, 清明 1, 劳动节 2,
# 端午 1, 中秋 1, 国庆 3), their lunar dates computed; the 2027 notice, which moves days and adds make-up working
# days, must be entered on the calendar screen when it is published.
def _days(first: str, last: str, works: bool, en: str, zh: str) -> list[tuple[datetime.date, bool, str, str]]:
    start, end = datetime.date.fromisoformat(first), datetime.date.fromisoformat(last)
    return [(start + ONE_DAY * i, works, en, zh) for i in range((end - start).days + 1)]


CHINA_HOLIDAYS = [
    # 2026
    *_days("2026-01-01", "2026-01-03", False, "New Year's Day", "元旦"),
    *_days("2026-01-04", "2026-01-04", True, "Working day for New Year's Day", "元旦调休上班"),
    *_days("2026-02-14", "2026-02-14", True, "Working day for Spring Festival", "春节调休上班"),
    *_days("2026-02-15", "2026-02-23", False, "Spring Festival", "春节"),
    *_days("2026-02-28", "2026-02-28", True, "Working day for Spring Festival", "春节调休上班"),
    *_days("2026-04-04", "2026-04-06", False, "Qingming Festival", "清明节"),
    *_days("2026-05-01", "2026-05-05", False, "Labour Day", "劳动节"),
    *_days("2026-05-09", "2026-05-09", True, "Working day for Labour Day", "劳动节调休上班"),
    *_days("2026-06-19", "2026-06-21", False, "Dragon Boat Festival", "端午节"),
    *_days("2026-09-20", "2026-09-20", True, "Working day for National Day", "国庆节调休上班"),
    *_days("2026-09-25", "2026-09-27", False, "Mid-Autumn Festival", "中秋节"),
    *_days("2026-10-01", "2026-10-07", False, "National Day", "国庆节"),
    *_days("2026-10-10", "2026-10-10", True, "Working day for National Day", "国庆节调休上班"),
    # 2027: statutory days only (see above)
    *_days("2027-01-01", "2027-01-01", False, "New Year's Day", "元旦"),
    *_days("2027-02-05", "2027-02-08", False, "Spring Festival", "春节"),
    *_days("2027-04-05", "2027-04-05", False, "Qingming Festival", "清明节"),
    *_days("2027-05-01", "2027-05-02", False, "Labour Day", "劳动节"),
    *_days("2027-06-09", "2027-06-09", False, "Dragon Boat Festival", "端午节"),
    *_days("2027-09-15", "2027-09-15", False, "Mid-Autumn Festival", "中秋节"),
    *_days("2027-10-01", "2027-10-03", False, "National Day", "国庆节"),
]


def china_holidays_load() -> int:
    """Add the days above that are not in the calendar yet (rows the office changed are kept). Returns rows added."""
    known = set(CalendarDay.objects.values_list("date", flat=True))
    new = [
        CalendarDay(date=date, is_working_day=works, name_en=en, name_zh=zh)
        for date, works, en, zh in CHINA_HOLIDAYS
        if date not in known
    ]
    CalendarDay.objects.bulk_create(new)
    return len(new)
