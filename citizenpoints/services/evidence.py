"""Evidence photos for claims and appeals: Pillow re-encodes every upload from its pixels, so nothing the camera wrote
(EXIF, GPS position, camera serial, ICC profile, XMP, comments, thumbnails) survives; the file is kept in PRIVATE
storage (`storages["private"]`, never MEDIA_ROOT) and served only by a view that checks who asks (`photo_read`).

Limits, each refused with its own code: `file_too_large` (more than MAX_BYTES read), `image_too_large` (more than
MAX_PIXELS, which includes decompression bombs: a tiny file declaring huge dimensions is refused from its header,
before any pixel is decoded), `not_an_image` (anything Pillow cannot read as JPEG, PNG or WebP: a renamed PDF, a
truncated file), `too_many_photos` (more than MAX_PHOTOS on one claim or appeal).
"""

import contextlib
import datetime
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import EvidencePhoto, OfficeRole, Resident, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.permissions import PermissionRefused, has_role

MAX_PHOTOS = 3
MAX_BYTES = 10 * 1024 * 1024
# A 50-megapixel phone camera's full-resolution photo passes; Pillow's own bomb limit (about 89 MP) is never reached.
MAX_PIXELS = 50_000_000
MAX_EDGE = 2048
JPEG_QUALITY = 85
# Phones send JPEG (iPhones convert HEIC to JPEG for a browser upload), PNG for screenshots, WebP from some apps.
# Pillow is told to try these decoders only, so an exotic format's parser never sees a resident's upload.
FORMATS = ("JPEG", "PNG", "WEBP")
# Roles that may look at residents' evidence: reviewers decide on it, auditors check the decisions.
STAFF_ROLES = (OfficeRole.REVIEWER, OfficeRole.AUDITOR)


class EvidenceError(ApplicationError):
    """Codes: file_too_large, image_too_large, not_an_image, too_many_photos, no_photo."""


@dataclass(frozen=True)
class CleanPhoto:
    """A re-encoded photo: baseline JPEG bytes carrying pixels only."""

    content: bytes
    width: int
    height: int
    size: int


def private_storage() -> Storage:
    return storages["private"]


def _read_bounded(upload) -> bytes:
    declared = getattr(upload, "size", None)
    if declared is not None and declared > MAX_BYTES:
        raise EvidenceError(_("Each photo must be smaller than 10 MB."), code="file_too_large")
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:  # the declared size lied, or there was none
        raise EvidenceError(_("Each photo must be smaller than 10 MB."), code="file_too_large")
    if not data:
        raise EvidenceError(_("This file is empty."), code="not_an_image")
    return data


def _not_an_image() -> EvidenceError:
    return EvidenceError(
        _("This file is not a photo we can read. Send a JPEG, PNG or WebP picture."), code="not_an_image"
    )


def _too_large() -> EvidenceError:
    return EvidenceError(
        _("This picture has too many pixels (at most 50 megapixels). Send a smaller photo."),
        code="image_too_large",
    )


_SRGB = None


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert pixels from the photo's own colour profile (e.g. an iPhone's Display P3) to sRGB, so dropping the
    profile does not shift the colours. Without a profile, or with a broken one, the pixels are kept as they are."""
    global _SRGB
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        if _SRGB is None:
            _SRGB = ImageCms.createProfile("sRGB")
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=output_mode) or image
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels: transparency over white (a screenshot's clear background stays light), other modes converted."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit greyscale PNG: scale to 8 bits first
        image = image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def photo_clean(upload) -> CleanPhoto:
    """Re-encode one uploaded file as a metadata-free JPEG at most MAX_EDGE pixels on its longer side.

    Reads at most MAX_BYTES + 1 bytes; checks the pixel count from the header before decoding; applies the EXIF
    orientation (the photo looks as the phone showed it) and converts to sRGB before dropping every metadata block.
    Raises EvidenceError (file_too_large, image_too_large, not_an_image). Writes nothing.
    """
    data = _read_bounded(upload)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise _too_large()
            probe.verify()  # walks the file's structure without decoding: refuses many damaged files early
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: a 50 MP photo never becomes 150 MB of pixels.
            image.draft("RGB", (MAX_EDGE, MAX_EDGE))
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _to_srgb(image)
            image = _flatten(image)
    except EvidenceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own guard: a header declaring far more pixels than MAX_PIXELS (when warnings are errors, the
        # warning it gives first is raised here too).
        raise _too_large() from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError, EOFError) as error:
        raise _not_an_image() from error
    image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    # A fresh image from raw pixels: not one key of the decoded file's `info` (exif, icc_profile, xmp, comment,
    # dpi...) can reach the encoder.
    clean = Image.frombytes("RGB", image.size, image.tobytes())
    output = io.BytesIO()
    clean.save(output, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    content = output.getvalue()
    return CleanPhoto(content=content, width=clean.width, height=clean.height, size=len(content))


def _storage_name(now: datetime.datetime) -> str:
    return f"evidence/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.jpg"


def photos_clean(uploads: Iterable, *, already: int = 0) -> list[CleanPhoto]:
    """Re-encode every upload (nothing written), refusing `too_many_photos` past MAX_PHOTOS with `already` kept.

    An item already a CleanPhoto (a caller cleaned it before opening its transaction) is taken as it is."""
    uploads = [upload for upload in uploads if upload]
    if already + len(uploads) > MAX_PHOTOS:
        raise EvidenceError(
            _("Add at most %(count)d photos.") % {"count": MAX_PHOTOS},
            code="too_many_photos",
            extra={"max": MAX_PHOTOS},
        )
    return [upload if isinstance(upload, CleanPhoto) else photo_clean(upload) for upload in uploads]


def photos_attach(*, claim=None, appeal=None, uploads: Sequence) -> list[EvidencePhoto]:
    """Attach uploads (files, or CleanPhotos from `photos_clean`) to one claim or one appeal (exactly one of them):
    at most MAX_PHOTOS in all on it.

    Every upload is cleaned before any file is written, so one bad photo stores nothing. Call inside the caller's
    transaction: the rows commit with it. The files are written at once; if the caller's transaction then fails,
    the caller deletes them with `photo_files_delete([photo.file_name for photo in rows])` (Django has no
    on-rollback hook). Raises EvidenceError.
    """
    if (claim is None) == (appeal is None):
        raise TypeError("photos_attach needs exactly one of claim= or appeal=")
    owner = {"claim": claim} if claim is not None else {"appeal": appeal}
    already = EvidencePhoto.objects.filter(**owner).count()
    cleaned = photos_clean(uploads, already=already)
    storage = private_storage()
    now = timezone.now()
    saved: list[str] = []
    try:
        for photo in cleaned:
            saved.append(storage.save(_storage_name(now), ContentFile(photo.content)))
        return EvidencePhoto.objects.bulk_create(
            EvidencePhoto(
                **owner, file_name=name, width=photo.width, height=photo.height, size=photo.size, uploaded_at=now
            )
            for name, photo in zip(saved, cleaned, strict=True)
        )
    except BaseException:
        photo_files_delete(saved)
        raise


def photo_files_delete(names: Iterable[str]) -> None:
    """Delete stored files now (a missing one is ignored)."""
    _delete_files(private_storage(), names)


def _delete_files(storage: Storage, names: Iterable[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):  # already gone: the row, not the file, is what the programme relies on
            storage.delete(name)


def photos_delete(photos: QuerySet) -> int:
    """Delete evidence rows now and their files once the caller's transaction commits. Returns rows deleted."""
    rows = list(photos.values_list("pk", "file_name"))
    deleted = EvidencePhoto.objects.filter(pk__in=[pk for pk, _name in rows]).delete()[0] if rows else 0
    names = [name for _pk, name in rows]
    storage = private_storage()
    transaction.on_commit(lambda: _delete_files(storage, names))
    return deleted


def photo_owner(photo: EvidencePhoto) -> Resident:
    return photo.claim.resident if photo.claim_id else photo.appeal.resident


def photos_of_resident(resident: Resident) -> QuerySet:
    """Every evidence photo a resident sent, with a claim or with an appeal."""
    return EvidencePhoto.objects.filter(Q(claim__resident=resident) | Q(appeal__resident=resident))


def photo_read(*, acting_user: User, photo: EvidencePhoto) -> bytes:
    """The stored JPEG, for the resident who sent it, or for a reviewer or auditor (each staff read is audited as
    `evidence.view` on the photo; the resident's access log records the opening of the claim or appeal itself).

    Raises PermissionRefused (`permission_denied`, audited) for anyone else, EvidenceError `no_photo` when the file
    is gone (e.g. erased when its owner left).
    """
    owner = photo_owner(photo)
    is_owner = owner.user_id is not None and acting_user.is_authenticated and owner.user_id == acting_user.pk
    is_staff = any(has_role(acting_user, role) for role in STAFF_ROLES)
    if not (is_owner or is_staff):
        with transaction.atomic():
            audit_record(actor=acting_user, action="evidence.view_refused", obj=photo, reason="permission_denied")
        raise PermissionRefused(
            _("Only the person who sent this photo, or a reviewer, may see it."), code="permission_denied"
        )
    try:
        with private_storage().open(photo.file_name, "rb") as stored:
            content = stored.read()
    except (FileNotFoundError, OSError) as error:
        raise EvidenceError(_("This photo is no longer kept."), code="no_photo") from error
    if is_staff and not is_owner:
        with transaction.atomic():
            audit_record(actor=acting_user, action="evidence.view", obj=photo)
    return content
