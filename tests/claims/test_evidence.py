"""The photo pipeline with real files made here: metadata and GPS are gone, orientation is applied, and what is not a
photo (a renamed PDF, a decompression bomb, an oversized file) is refused with its code."""

import io
import struct
import zlib

import pytest
from PIL import Image, ImageCms

from citizenpoints.models import EvidencePhoto
from citizenpoints.services.evidence import (
    MAX_BYTES,
    MAX_EDGE,
    EvidenceError,
    photo_clean,
    photos_attach,
    photos_delete,
)
from tests.claims.conftest import jpeg_bytes, upload
from tests.factories import ResidentFactory

GPS_IFD = 0x8825


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0xA431] = "SERIAL-12345"  # BodySerialNumber (in the Exif IFD on real cameras; here in IFD0 too)
    exif[0x0132] = "2026:05:01 09:30:00"
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (30.0, 16.0, 12.5)
    gps[3], gps[4] = "E", (120.0, 9.0, 30.0)
    return exif


def opened(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def test_a_jpeg_with_gps_comes_out_without_any_metadata():
    original = jpeg_bytes(exif=gps_exif(), comment=b"taken at home")
    source = opened(original)
    assert source.getexif().get_ifd(GPS_IFD)  # the test file really carries a GPS position
    assert b"SpyCam" in original and b"taken at home" in original

    photo = photo_clean(upload(original))

    image = opened(photo.content)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert dict(image.getexif()) == {} and not image.getexif().get_ifd(GPS_IFD)
    assert not {"exif", "icc_profile", "xmp", "comment", "photoshop", "adobe"} & set(image.info)
    for marker in (b"Exif", b"SpyCam", b"SERIAL", b"taken at home", b"http://ns.adobe.com/xap"):
        assert marker not in photo.content
    # No APP1 (EXIF/XMP), APP2 (ICC) or COM segment at all: only JFIF's APP0 may precede the image data.
    assert b"\xff\xe1" not in photo.content[:2000] and b"\xff\xe2" not in photo.content[:2000]
    assert b"\xff\xfe" not in photo.content[:2000]
    assert (photo.width, photo.height, photo.size) == (640, 480, len(photo.content))


def test_xmp_and_icc_profiles_are_dropped():
    output = io.BytesIO()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>secret-location</rdf:RDF></x:xmpmeta>'
    Image.new("RGB", (300, 200), (200, 100, 50)).save(output, "JPEG", icc_profile=profile, xmp=xmp)
    assert b"secret-location" in output.getvalue()

    photo = photo_clean(upload(output.getvalue()))

    assert b"secret-location" not in photo.content and b"ICC_PROFILE" not in photo.content
    assert "icc_profile" not in opened(photo.content).info


def test_the_exif_orientation_is_applied_before_the_metadata_goes():
    # A landscape sensor image the camera marked "rotate 90° clockwise" (orientation 6): left half red, right blue.
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (200, 0, 400, 200))
    output = io.BytesIO()
    image.save(output, "JPEG", exif=gps_exif(orientation=6), quality=95)

    result = opened(photo_clean(upload(output.getvalue())).content)

    assert result.size == (200, 400)  # portrait, as the phone showed it
    top, bottom = result.getpixel((100, 20)), result.getpixel((100, 380))
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60
    assert 0x0112 not in result.getexif()  # and no orientation tag left to rotate it twice


def test_a_png_with_transparency_becomes_a_jpeg_on_white():
    output = io.BytesIO()
    image = Image.new("RGBA", (320, 240), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 160, 240))
    image.save(output, "PNG", pnginfo=_png_text("Location", "30.27N 120.15E"))
    assert b"30.27N" in output.getvalue()

    photo = photo_clean(upload(output.getvalue(), name="screen.png", content_type="image/png"))

    result = opened(photo.content)
    assert result.format == "JPEG" and result.size == (320, 240)
    assert result.getpixel((300, 10)) == (255, 255, 255)  # transparent → white, not black
    assert result.getpixel((10, 10))[1] > 100
    assert b"30.27N" not in photo.content


def _png_text(key, value):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


def test_a_webp_is_accepted():
    output = io.BytesIO()
    Image.new("RGB", (100, 80), (10, 20, 30)).save(output, "WEBP")
    assert opened(photo_clean(upload(output.getvalue(), name="a.webp")).content).size == (100, 80)


def test_a_large_photo_is_scaled_down_to_the_maximum_edge():
    photo = photo_clean(upload(jpeg_bytes(size=(4000, 3000))))
    assert (photo.width, photo.height) == (MAX_EDGE, 1536)
    assert opened(photo.content).size == (MAX_EDGE, 1536)


def test_a_pdf_renamed_jpg_is_refused():
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    with pytest.raises(EvidenceError) as refused:
        photo_clean(upload(pdf, name="receipt.jpg", content_type="image/jpeg"))
    assert refused.value.code == "not_an_image"


@pytest.mark.parametrize(
    "content",
    [
        b"",  # empty
        b"GIF89a" + b"\x00" * 100,  # broken header
        jpeg_bytes()[:300],  # a truncated JPEG
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    ],
    ids=["empty", "garbage", "truncated-jpeg", "svg"],
)
def test_what_is_not_a_readable_photo_is_refused(content):
    with pytest.raises(EvidenceError) as refused:
        photo_clean(upload(content))
    assert refused.value.code == "not_an_image"


def test_a_format_outside_jpeg_png_webp_is_refused():
    output = io.BytesIO()
    Image.new("RGB", (50, 50)).save(output, "TIFF")
    with pytest.raises(EvidenceError) as refused:
        photo_clean(upload(output.getvalue(), name="scan.tiff"))
    assert refused.value.code == "not_an_image"


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring `width`×`height` 1-bit pixels over a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1000, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "dimensions",
    [(60_000, 60_000), (9_000, 6_000)],
    ids=["pillow-bomb-error", "over-our-50-megapixels"],
)
def test_a_decompression_bomb_is_refused_from_its_header(dimensions):
    bomb = _png_bomb(*dimensions)
    assert len(bomb) < 200  # a tiny file...
    with pytest.raises(EvidenceError) as refused:
        photo_clean(upload(bomb, name="bomb.png", content_type="image/png"))
    assert refused.value.code == "image_too_large"


def test_an_oversized_file_is_refused_before_it_is_read_whole():
    big = upload(jpeg_bytes() + b"\x00" * MAX_BYTES)
    with pytest.raises(EvidenceError) as refused:
        photo_clean(big)
    assert refused.value.code == "file_too_large"


def test_an_oversized_file_that_hides_its_size_is_refused():
    stream = io.BytesIO(b"\xff\xd8" + b"\x00" * (MAX_BYTES + 10))  # no .size attribute
    with pytest.raises(EvidenceError) as refused:
        photo_clean(stream)
    assert refused.value.code == "file_too_large"


@pytest.mark.django_db
def test_photos_are_stored_privately_and_at_most_three(private_root, settings, catalogue):
    from tests.claims.test_claim_services import file_claim

    claim = file_claim(ResidentFactory(), photos=[upload()])
    rows = photos_attach(claim=claim, uploads=[upload(), upload()])
    names = [photo.file_name for photo in EvidencePhoto.objects.filter(claim=claim)]
    assert len(names) == 3 and len(rows) == 2
    for name in names:
        assert name.startswith("evidence/") and name.endswith(".jpg")
        assert (private_root / name).is_file()
        assert not (settings.MEDIA_ROOT / name).exists()

    with pytest.raises(EvidenceError) as refused:
        photos_attach(claim=claim, uploads=[upload()])
    assert refused.value.code == "too_many_photos"

    # One bad photo among good ones stores nothing at all.
    claim2 = file_claim(ResidentFactory(), photos=[upload()])
    files_before = sorted(private_root.rglob("*.jpg"))
    with pytest.raises(EvidenceError):
        photos_attach(claim=claim2, uploads=[upload(), upload(b"%PDF-1.4")])
    assert sorted(private_root.rglob("*.jpg")) == files_before
    assert claim2.photos.count() == 1


@pytest.mark.django_db(transaction=True)
def test_deleting_photos_removes_their_files_after_commit(private_root, catalogue):
    from tests.claims.test_claim_services import file_claim

    claim = file_claim(ResidentFactory(), photos=[upload(), upload()])
    paths = [private_root / photo.file_name for photo in claim.photos.all()]
    assert all(path.is_file() for path in paths)
    assert photos_delete(EvidencePhoto.objects.filter(claim=claim)) == 2
    assert not any(path.exists() for path in paths)


def test_a_large_rotated_jpeg_is_decoded_small_and_still_turned_upright():
    exif = gps_exif(orientation=6)
    output = io.BytesIO()
    Image.new("RGB", (4200, 2800), (200, 30, 30)).save(output, "JPEG", exif=exif)
    photo = photo_clean(upload(output.getvalue()))
    assert (photo.width, photo.height) == (1365, MAX_EDGE)  # portrait, longest edge at the limit
    assert not opened(photo.content).getexif()
