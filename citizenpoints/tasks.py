"""Celery tasks: thin wrappers that load by id and call one service or helper."""

import datetime

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import OperationalError
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import translation

from citizenpoints.models import IngestBatch, Resident
from citizenpoints.services.exports import export_build, exports_expire
from citizenpoints.services.ingest import batch_process
from citizenpoints.services.nightly import nightly_pass
from citizenpoints.services.notifications import (
    notice_range_email_batches,
    notices_email,
    points_digest_create,
    yesterday_local,
)
from citizenpoints.services.retention import retention_purge


@shared_task
def send_join_receipt(*, resident_id: int) -> None:
    """Email the resident a receipt of what they agreed to, in their language."""
    resident = Resident.objects.select_related("user").get(pk=resident_id)
    if resident.user is None:  # left before the receipt went out
        return
    with translation.override(resident.language):
        context = {"resident": resident, "terms_version": resident.terms_version}
        subject = render_to_string("citizenpoints/email/join_receipt_subject.txt", context).strip()
        body = render_to_string("citizenpoints/email/join_receipt_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [resident.user.email])


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def nightly_scoring() -> dict:
    """Age points out of the window, re-tier whom it touched, award badges: all set-based."""
    return nightly_pass()


@shared_task(bind=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8, acks_late=True)
def process_ingest_batch(self, *, batch_id: str) -> dict:
    """Process one department batch (idempotent: a batch already done is left alone)."""
    try:
        batch = batch_process(batch_id=batch_id)
    except Exception as error:
        IngestBatch.objects.filter(pk=batch_id).update(
            status=IngestBatch.Status.FAILED,
            error=f"{type(error).__name__}: {error}"[:2000],
            attempts=F("attempts") + 1,
        )
        raise
    return {"batch": batch_id, "counts": batch.counts}


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def build_export(*, export_id: str) -> dict:
    """Build one resident's data export (idempotent: an export already built is left alone)."""
    export = export_build(export_id=export_id)
    return {"export": export_id, "status": export.status}


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def nightly_retention() -> dict:
    """Delete what is older than the retention period (chains stay verifiable), then expired exports' files."""
    result = retention_purge()
    result["exports_expired"] = exports_expire()
    return result


@shared_task(autoretry_for=(OSError, OperationalError), retry_backoff=True, max_retries=6)
def email_notices(*, notice_ids: list[int]) -> int:
    """Mail a batch of notices (idempotent: each row is claimed before its message goes; a retry skips the sent).
    Retries on network and mail server errors (SMTPException is an OSError) and database lock timeouts."""
    return notices_email(notice_ids=notice_ids)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def email_notice_range(*, first_id: int, last_id: int) -> int:
    """Fan out the mailable notices a set-based pass wrote (ids first..last) as batch tasks. Returns batches."""
    batches = 0
    for notice_ids in notice_range_email_batches(first_id=first_id, last_id=last_id):
        email_notices.delay(notice_ids=notice_ids)
        batches += 1
    return batches


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def points_digest(*, day: str | None = None) -> dict:
    """Each resident's points of one local day (default yesterday) in one notice and one email; re-runs add nothing."""
    on = datetime.date.fromisoformat(day) if day else yesterday_local()
    return {"day": on.isoformat(), "digests": points_digest_create(day=on)}
