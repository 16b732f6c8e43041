"""Notices go by email after commit, in the resident's language, once, and only to residents who want them, are still
in the programme and confirmed their address."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import transaction

from citizenpoints.models import Notification
from citizenpoints.services import notifications
from citizenpoints.services.leaving import resident_leave
from citizenpoints.services.notifications import notices_email, notify
from citizenpoints.tasks import email_notices
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


def badge_params():
    from citizenpoints.models import Badge

    return {"badge_id": Badge.objects.get(code="love-messenger").pk}


def test_a_notice_is_mailed_after_commit_in_the_residents_language(django_capture_on_commit_callbacks):
    resident = ResidentFactory(language="zh-hans", given_name="美")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        notice = notify(resident=resident, kind=Kind.BADGE_EARNED, params=badge_params())
        assert mail.outbox == []  # not before commit
    assert len(callbacks) == 1
    (message,) = mail.outbox
    assert message.to == [resident.user.email]
    assert message.subject == "[城市积分] 你获得了徽章：💝 爱心使者"
    assert "美，你好：" in message.body
    assert "12 个月内志愿服务或献血记录达到 10 次以上。" in message.body
    assert "http://localhost:8000/me/" in message.body
    assert "http://localhost:8000/me/profile/" in message.body  # how to stop them
    assert message.extra_headers["List-Unsubscribe"] == "<http://localhost:8000/me/profile/>"
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and '<html lang="zh-Hans">' in html and "爱心使者" in html
    notice.refresh_from_db()
    assert notice.emailed_at is not None


def test_english_for_an_english_reader(django_capture_on_commit_callbacks):
    resident = ResidentFactory(language="en", given_name="Mei")
    with django_capture_on_commit_callbacks(execute=True):
        notify(resident=resident, kind=Kind.BADGE_EARNED, params=badge_params())
    (message,) = mail.outbox
    assert message.subject == "[CityPoints] You earned a badge: 💝 Love messenger"
    assert message.body.startswith("Hello Mei,")


def test_a_rolled_back_transaction_sends_nothing_and_keeps_nothing(django_capture_on_commit_callbacks):
    resident = ResidentFactory()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notify(resident=resident, kind=Kind.BADGE_EARNED, params=badge_params())
        raise RuntimeError("the decision failed")
    assert callbacks == [] and mail.outbox == []
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    "who",
    ["opted out", "left", "unverified address"],
)
def test_no_mail_to_whoever_should_not_get_it(who, django_capture_on_commit_callbacks):
    if who == "unverified address":
        resident = ResidentFactory(user=UserFactory(verified_email=False))
    else:
        resident = ResidentFactory(email_notices=who != "opted out")
    notice = notify(resident=resident, kind=Kind.BADGE_EARNED, params=badge_params())
    if who == "left":
        resident_leave(resident=resident, acting_user=resident.user)
    with django_capture_on_commit_callbacks(execute=True):
        email_notices.delay(notice_ids=[notice.pk])
    assert mail.outbox == []


def test_a_retried_task_does_not_send_twice(django_capture_on_commit_callbacks):
    resident = ResidentFactory()
    notice = notify(resident=resident, kind=Kind.BADGE_EARNED, params=badge_params())
    assert notices_email(notice_ids=[notice.pk]) == 1
    assert notices_email(notice_ids=[notice.pk]) == 0
    email_notices.delay(notice_ids=[notice.pk])
    assert len(mail.outbox) == 1


def test_a_failed_send_releases_the_rows_for_the_retry(monkeypatch):
    first, second = ResidentFactory(), ResidentFactory()
    notices = [notify(resident=r, kind=Kind.BADGE_EARNED, params=badge_params()) for r in (first, second)]
    real_message = notifications._message
    calls = []

    def flaky(notice, address):
        calls.append(notice.pk)
        if len(calls) == 2:
            raise ConnectionError("SMTP went away")
        return real_message(notice, address)

    monkeypatch.setattr(notifications, "_message", flaky)
    with pytest.raises(ConnectionError):
        notices_email(notice_ids=[n.pk for n in notices])
    assert len(mail.outbox) == 1
    sent, failed = (Notification.objects.get(pk=n.pk) for n in notices)
    assert sent.emailed_at is not None and failed.emailed_at is None
    monkeypatch.setattr(notifications, "_message", real_message)
    assert notices_email(notice_ids=[n.pk for n in notices]) == 1  # the retry sends only the one that failed
    assert sorted(m.to[0] for m in mail.outbox) == sorted([first.user.email, second.user.email])


def test_the_address_must_be_the_verified_primary_one(django_capture_on_commit_callbacks):
    resident = ResidentFactory()
    EmailAddress.objects.filter(user=resident.user).update(verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        notice = notify(resident=resident, kind=Kind.BADGE_EARNED, params=badge_params())
    assert mail.outbox == []
    EmailAddress.objects.filter(user=resident.user).update(verified=True)
    notices_email(notice_ids=[notice.pk])  # confirmed later: a retry of the same notice goes out
    assert len(mail.outbox) == 1
