"""Joining the programme and the resident's own settings."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import ConsentRecord, Resident, User
from citizenpoints.services.scoring import balance_open

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def current_terms_version() -> str:
    return settings.CITYPOINTS_TERMS_VERSION


def resident_join(*, user: User, given_name: str, language: str, accepted_terms_version: str | None) -> Resident:
    """Make `user` a resident with their explicit consent to the current terms.

    Locks the user row, then checks, so a double-submitted form joins once. Raises ApplicationError with codes
    `consent_required`, `terms_outdated`, `given_name_required`, `unknown_language`, `already_joined`.
    The consent receipt is emailed after commit.
    """
    if not accepted_terms_version:
        raise ApplicationError(
            _("To join, tick the box to say you have read and agree to the terms."), code="consent_required"
        )
    if accepted_terms_version != current_terms_version():
        raise ApplicationError(
            _("The terms have changed since you opened this page. Please read the current terms and agree again."),
            code="terms_outdated",
        )
    given_name = given_name.strip()
    if not given_name:
        raise ApplicationError(_("Please tell us your given name."), code="given_name_required")
    if language not in LANGUAGE_CODES:
        raise ApplicationError(_("Please choose English or Simplified Chinese."), code="unknown_language")

    from citizenpoints.tasks import send_join_receipt  # tasks import services; avoid the cycle at import time

    try:
        with transaction.atomic():
            User.objects.select_for_update().get(pk=user.pk)
            if Resident.objects.filter(user=user).exists():
                raise ApplicationError(_("You have already joined the programme."), code="already_joined")
            resident = Resident.objects.create(
                user=user, given_name=given_name, language=language, terms_version=accepted_terms_version
            )
            ConsentRecord.objects.create(resident=resident, terms_version=accepted_terms_version)
            balance_open(resident=resident)
            transaction.on_commit(lambda: send_join_receipt.delay(resident_id=resident.pk))
    except IntegrityError as exc:  # a concurrent join on a database without row locks (SQLite)
        raise ApplicationError(_("You have already joined the programme."), code="already_joined") from exc
    return resident


def resident_set_language(*, resident: Resident, language: str) -> Resident:
    if language not in LANGUAGE_CODES:
        raise ApplicationError(_("Please choose English or Simplified Chinese."), code="unknown_language")
    if resident.language != language:
        resident.language = language
        resident.save(update_fields=["language"])
    return resident


def resident_consent_renew(*, resident: Resident, accepted_terms_version: str | None) -> Resident:
    """Record the resident's consent to the current terms (after a new version), keeping every earlier consent.

    Idempotent for the same version. Refuses `consent_required`, `terms_outdated`, `already_left`.
    """
    if not accepted_terms_version:
        raise ApplicationError(
            _("Tick the box to say you have read and agree to the terms, or leave the programme."),
            code="consent_required",
        )
    if accepted_terms_version != current_terms_version():
        raise ApplicationError(
            _("The terms have changed since you opened this page. Please read the current terms and agree again."),
            code="terms_outdated",
        )
    with transaction.atomic():
        resident = Resident.objects.select_for_update().get(pk=resident.pk)
        if resident.left_at is not None:
            raise ApplicationError(_("You have left the programme."), code="already_left")
        ConsentRecord.objects.get_or_create(resident=resident, terms_version=accepted_terms_version)
        if resident.terms_version != accepted_terms_version:
            resident.terms_version = accepted_terms_version
            resident.save(update_fields=["terms_version"])
    return resident
