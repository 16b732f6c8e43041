"""Celery tasks: thin wrappers that load by id and call one service or helper."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from citizenpoints.models import Resident


@shared_task
def send_join_receipt(*, resident_id: int) -> None:
    """Email the resident a receipt of what they agreed to, in their language."""
    resident = Resident.objects.select_related("user").get(pk=resident_id)
    with translation.override(resident.language):
        context = {"resident": resident, "terms_version": resident.terms_version}
        subject = render_to_string("citizenpoints/email/join_receipt_subject.txt", context).strip()
        body = render_to_string("citizenpoints/email/join_receipt_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [resident.user.email])
