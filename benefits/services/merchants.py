"""The office's partner manager onboards, pauses and resumes partners, their locations, logos and staff."""

import io
from functools import partial
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from benefits.models import Merchant, MerchantLocation, MerchantStaff
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import OfficeRole, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.permissions import role_required

LOGO_MAX = 1024
THUMBNAIL = (128, 128)
LOGO_MAX_BYTES = 5 * 1024 * 1024
MERCHANT_FIELDS = (
    "name_en",
    "name_zh",
    "category",
    "address_en",
    "address_zh",
    "opening_hours_en",
    "opening_hours_zh",
)


class MerchantError(ApplicationError):
    """Codes: permission_denied, not_an_image, image_too_large, wrong_merchant, already_staff, office_account,
    name_required, reason_required, bad_email."""


def _snapshot(merchant: Merchant) -> dict[str, Any]:
    return {name: getattr(merchant, name) for name in (*MERCHANT_FIELDS, "slug", "is_active")}


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def merchant_onboard(
    *, acting_user: User, slug: str, name_en: str, name_zh: str, logo=None, **details: Any
) -> Merchant:
    """Create a partner (active). `details`: category, address_*, opening_hours_*. With a `logo` upload, as
    `merchant_set_logo` (a refused logo refuses the whole onboarding). Audited."""
    if not (name_en or "").strip() or not (name_zh or "").strip():
        raise MerchantError(_("Give the partner's name in both languages."), code="name_required")
    unknown = set(details) - set(MERCHANT_FIELDS)
    if unknown:
        raise TypeError(f"unknown merchant fields: {sorted(unknown)}")
    merchant = Merchant(slug=slug, name_en=name_en.strip(), name_zh=name_zh.strip(), **details)
    merchant.full_clean(exclude=["logo", "logo_thumbnail"])
    merchant.save()
    audit_record(actor=acting_user, action="benefits.merchant_onboard", obj=merchant, after=_snapshot(merchant))
    if logo is not None:
        merchant_set_logo(acting_user=acting_user, merchant=merchant, upload=logo)
    return merchant


def _set_active(acting_user: User, merchant: Merchant, active: bool, reason: str, action: str) -> Merchant:
    if not (reason or "").strip():
        raise MerchantError(_("Say why; the partner is told."), code="reason_required")
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    before = locked.is_active
    Merchant.objects.filter(pk=merchant.pk).update(is_active=active)
    merchant.is_active = active
    audit_record(
        actor=acting_user,
        action=action,
        obj=merchant,
        before={"is_active": before},
        after={"is_active": active},
        reason=reason.strip(),
    )
    return merchant


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def merchant_pause(*, acting_user: User, merchant: Merchant, reason: str) -> Merchant:
    """Pause a partner: none of its benefits can be shown or redeemed until it is resumed. Audited."""
    return _set_active(acting_user, merchant, False, reason, "benefits.merchant_pause")


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def merchant_resume(*, acting_user: User, merchant: Merchant, reason: str) -> Merchant:
    return _set_active(acting_user, merchant, True, reason, "benefits.merchant_resume")


def _reencode_logo(upload) -> tuple[bytes, bytes]:
    """(logo PNG, thumbnail PNG) re-encoded from pixels only: no metadata survives. Refuses what is not an image."""
    if getattr(upload, "size", 0) and upload.size > LOGO_MAX_BYTES:
        raise MerchantError(_("The logo is larger than 5 MB."), code="image_too_large")
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            probe.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise MerchantError(_("The logo must be an image (PNG, JPEG, GIF or WebP)."), code="not_an_image") from error
    image.thumbnail((LOGO_MAX, LOGO_MAX))
    logo = io.BytesIO()
    image.save(logo, format="PNG", optimize=True)
    thumb_image = image.copy()
    thumb_image.thumbnail(THUMBNAIL)
    thumb = io.BytesIO()
    thumb_image.save(thumb, format="PNG", optimize=True)
    return logo.getvalue(), thumb.getvalue()


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def merchant_set_logo(*, acting_user: User, merchant: Merchant, upload) -> Merchant:
    """Store the partner's logo and a 128 px thumbnail, both re-encoded by Pillow. Audited."""
    logo, thumb = _reencode_logo(upload)
    merchant.logo.save(f"{merchant.slug}.png", ContentFile(logo), save=False)
    merchant.logo_thumbnail.save(f"{merchant.slug}-128.png", ContentFile(thumb), save=False)
    merchant.save(update_fields=["logo", "logo_thumbnail"])
    audit_record(
        actor=acting_user, action="benefits.merchant_set_logo", obj=merchant, after={"logo": merchant.logo.name}
    )
    return merchant


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def location_add(
    *, acting_user: User, merchant: Merchant, name_en: str, name_zh: str, **details: Any
) -> MerchantLocation:
    """Add a counter or branch. `details`: address_*, opening_hours_*. Audited."""
    location = MerchantLocation(merchant=merchant, name_en=name_en, name_zh=name_zh, **details)
    location.full_clean()
    location.save()
    audit_record(
        actor=acting_user,
        action="benefits.location_add",
        obj=location,
        after={"merchant": merchant.pk, "name_en": name_en, "name_zh": name_zh},
    )
    return location


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def staff_add(
    *,
    acting_user: User,
    merchant: Merchant,
    user: User,
    role: str = MerchantStaff.Role.CASHIER,
    location: MerchantLocation | None = None,
) -> MerchantStaff:
    """Make `user` a cashier or manager of `merchant` (a staff account belongs to one merchant). Audited."""
    if location is not None and location.merchant_id != merchant.pk:
        raise MerchantError(_("That location belongs to another partner."), code="wrong_merchant")
    if MerchantStaff.objects.filter(user=user).exists():
        raise MerchantError(_("This account already works for a partner."), code="already_staff")
    if user.is_office_staff:
        raise MerchantError(_("Credit office accounts cannot be partner staff."), code="office_account")
    staff = MerchantStaff.objects.create(user=user, merchant=merchant, role=role, location=location)
    audit_record(
        actor=acting_user,
        action="benefits.staff_add",
        obj=staff,
        after={"merchant": merchant.pk, "user": user.pk, "role": role, "location": location.pk if location else None},
    )
    return staff


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def merchant_update(*, acting_user: User, merchant: Merchant, **details: Any) -> Merchant:
    """Change a partner's names, category, address or opening hours (`details`: any of MERCHANT_FIELDS; the short
    name in links never changes). Locks the row; audited with before and after."""
    unknown = set(details) - set(MERCHANT_FIELDS)
    if unknown:
        raise TypeError(f"unknown merchant fields: {sorted(unknown)}")
    details = {name: value.strip() if isinstance(value, str) else value for name, value in details.items()}
    if any(name in details and not details[name] for name in ("name_en", "name_zh")):
        raise MerchantError(_("Give the partner's name in both languages."), code="name_required")
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    before = _snapshot(locked)
    for name, value in details.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["logo", "logo_thumbnail"])
    locked.save(update_fields=list(details))
    audit_record(
        actor=acting_user, action="benefits.merchant_update", obj=locked, before=before, after=_snapshot(locked)
    )
    return locked


@role_required(OfficeRole.PARTNER_MANAGER)
@transaction.atomic
def staff_invite(
    *,
    acting_user: User,
    merchant: Merchant,
    email: str,
    role: str = MerchantStaff.Role.CASHIER,
    location: MerchantLocation | None = None,
) -> MerchantStaff:
    """Make the person at `email` a cashier or manager of `merchant`, creating their account if there is none.

    A new account has no password: after commit the person gets an email with a link to choose one (allauth's
    password-reset link, valid for PASSWORD_RESET_TIMEOUT). Its address counts as verified, because that link, sent
    to it, is the only way in. An existing account (a resident who also works at the counter) gets a notice instead.
    Refuses as `staff_add` does, and `bad_email`; nothing is created or sent when it refuses. Audited (staff_add).
    """
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as error:
        raise MerchantError(_("Enter the staff member's email address."), code="bad_email") from error
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        owner = EmailAddress.objects.filter(email__iexact=email).select_related("user").first()
        user = owner.user if owner else None
    created = user is None
    if created:
        # Lower case, as allauth keeps addresses (it would otherwise add an unverified lower-case twin at sign-in).
        user = User.objects.create_user(email=email.lower(), password=None)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    staff = staff_add(acting_user=acting_user, merchant=merchant, user=user, role=role, location=location)
    password_url = _password_url(user) if created else ""
    transaction.on_commit(partial(staff_invitation_send, staff=staff, password_url=password_url))
    return staff


def _password_url(user: User) -> str:
    """allauth's link to choose a password: absolute from the request being served, else from SITE_URL."""
    from allauth.account.adapter import get_adapter
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str
    from allauth.core import context

    key = f"{user_pk_to_url_str(user)}-{default_token_generator.make_token(user)}"
    if context.request is not None:
        return get_adapter().get_reset_password_from_key_url(key)
    path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"}).replace("UID-KEY", key)
    return settings.CITYPOINTS_SITE_URL.rstrip("/") + path


def staff_invitation_send(*, staff: MerchantStaff, password_url: str = "") -> None:
    """Email the staff member, in both languages (we do not know theirs): where they work, their role, and for a new
    account the link to choose a password (none: they sign in with the account they have)."""
    from allauth.account.adapter import get_adapter

    context = {"staff": staff, "merchant": staff.merchant, "password_url": password_url}
    subject = render_to_string("benefits/email/staff_invitation_subject.txt", context)
    body = render_to_string("benefits/email/staff_invitation_message.txt", context)
    subject = get_adapter().format_email_subject(" ".join(subject.split()))
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [staff.user.email]).send()
