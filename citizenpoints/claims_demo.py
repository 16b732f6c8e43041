"""Demo claims, with photos Pillow draws (each drawn photo carries made-up camera data and a GPS position, which the
evidence pipeline strips like any real upload's):

- a few waiting for the reviewer, and one rejected with a reason, filed through `claim_file` and `claim_reject`;
- the approved ones are the claims behind the demo histories' "claims" entries (their points are already in the
  ledger, and the demo's printed scores), so each of the latest two per resident gets its Claim row and photo.

Idempotent: a filed demo claim is recognised by its resident and description, an approved one by its entry.
"""

import datetime
import io
import random

from django.utils import timezone
from PIL import Image, ImageDraw

from citizenpoints.models import Claim, LedgerEntry, OfficeRole, Resident, User
from citizenpoints.services.awards import published_behaviour
from citizenpoints.services.claims import ClaimError, claim_file, claim_reject
from citizenpoints.services.evidence import photos_attach
from citizenpoints.services.scoring import local_zone

# (resident's email local part, behaviour, days ago, hour, description, place, photos, decision, reviewer's words)
DEMO_CLAIMS = [
    (
        "wang.wei",
        "community-clean-up",
        2,
        8,
        "清理了小区北门花坛里的垃圾和杂草，装了三袋，附清理前后的照片。",
        "西溪花园北门",
        ["litter", "clean"],
        None,
        "",
    ),
    (
        "li.na",
        "neighbour-help",
        1,
        18,
        "帮楼下的张阿姨把超市买的米和油搬上六楼，她腿脚不便。",
        "翠苑三区 12 幢",
        ["bags"],
        None,
        "",
    ),
    (
        "emma.clarke",
        "lost-property-returned",
        3,
        12,
        "Found a wallet on the number 7 bus and handed it in at the lost-and-found desk. Photo of the receipt.",
        "Wulin Square bus station",
        ["receipt"],
        None,
        "",
    ),
    (
        "li.na",
        "lost-property-returned",
        12,
        20,
        "捡到一把雨伞交给了地铁站工作人员。",
        "凤起路地铁站",
        ["umbrella"],
        "reject",
        "这张照片只显示了一把雨伞，没有失物招领处的回执。请附上回执后重新申报，或就此决定提出申诉。",
    ),
]

PALETTES = {
    "litter": ((135, 190, 235), (96, 150, 80), (60, 60, 60)),
    "clean": ((135, 190, 235), (96, 170, 80), (40, 120, 200)),
    "bags": ((230, 225, 215), (180, 160, 130), (240, 200, 60)),
    "receipt": ((90, 90, 100), (250, 250, 245), (30, 30, 30)),
    "bike": ((200, 220, 240), (120, 120, 120), (200, 40, 40)),
    "umbrella": ((170, 180, 190), (90, 95, 100), (30, 80, 160)),
}


def demo_photo(kind: str, seed: str) -> io.BytesIO:
    """A 1600×1200 phone-like photo (a sky, the ground, some objects) saved as JPEG with EXIF camera data and GPS."""
    rng = random.Random(f"citypoints-claim-photo:{seed}")
    sky, ground, thing = PALETTES[kind]
    image = Image.new("RGB", (1600, 1200), sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 700, 1600, 1200), fill=ground)
    for _ in range(6):
        x, y = rng.randrange(100, 1400), rng.randrange(600, 1000)
        size = rng.randrange(80, 220)
        shade = tuple(max(0, min(255, c + rng.randrange(-40, 40))) for c in thing)
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + size, y + size * 3 // 4), fill=shade, outline=(20, 20, 20), width=4)
        else:
            draw.rectangle((x, y, x + size, y + size), fill=shade, outline=(20, 20, 20), width=4)
    if kind == "receipt":
        draw.rectangle((500, 200, 1100, 1000), fill=(255, 255, 250), outline=(0, 0, 0), width=3)
        for line in range(12):
            draw.line(
                (560, 280 + line * 55, 560 + rng.randrange(200, 480), 280 + line * 55), fill=(60, 60, 60), width=8
            )
    exif = Image.Exif()
    exif[0x010F] = "DemoPhone"  # Make
    exif[0x0110] = "Model 7"  # Model
    exif[0x0132] = "2026:01:01 10:00:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (30.0, 16.0, 12.5)  # latitude: Hangzhou
    gps[3], gps[4] = "E", (120.0, 9.0, 30.0)
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=88, exif=exif)
    output.seek(0)
    output.name = f"{kind}.jpg"
    return output


def claims_demo_load(*, now: datetime.datetime | None = None) -> list[Claim]:
    """File the demo claims (and decide some as the demo reviewer); returns the claims it added."""
    from citizenpoints.management.commands.load_demo import DEMO_DOMAIN

    now = now or timezone.now()
    reviewer = (
        User.objects.filter(groups__name=OfficeRole.REVIEWER, email__endswith=f"@{DEMO_DOMAIN}").order_by("pk").first()
    )
    residents = {
        resident.user.email.split("@")[0]: resident
        for resident in Resident.objects.select_related("user").filter(
            user__email__endswith=f"@{DEMO_DOMAIN}", left_at__isnull=True
        )
    }
    added = []
    for who, code, days_ago, hour, description, place, photos, decision, words in DEMO_CLAIMS:
        resident = residents.get(who)
        if resident is None or published_behaviour(code) is None:
            continue
        if Claim.objects.filter(resident=resident, description=description).exists():
            continue
        day = now.astimezone(local_zone()).date() - datetime.timedelta(days=days_ago)
        occurred_at = datetime.datetime.combine(day, datetime.time(hour, 15), tzinfo=local_zone())
        try:
            claim = claim_file(
                resident=resident,
                behaviour_code=code,
                description=description,
                occurred_at=occurred_at,
                place=place,
                photos=[demo_photo(kind, f"{who}:{code}:{kind}") for kind in photos],
                now=now,
            )
        except ClaimError:
            continue  # e.g. the catalogue published is not the demo's
        if decision and reviewer is not None:
            claim_reject(acting_user=reviewer, claim=claim, reason=words)
        added.append(claim)
    for resident in residents.values():
        added += _approved_claims_behind_entries(resident, reviewer)
    return added


# What residents wrote for the claims behind their history's entries, by behaviour: (English, Chinese, place).
APPROVED_TEXT = {
    "neighbour-help": (
        "Went with my elderly neighbour to her hospital appointment and helped her home.",
        "陪年迈的邻居去医院复诊，并送她回家。",
        ("Block 3 lobby", "3 幢大堂"),
        "bags",
    ),
    "lost-property-returned": (
        "Handed a phone I found on the metro to the station's lost-and-found desk.",
        "把在地铁上捡到的手机交给了车站失物招领处。",
        ("Metro station service desk", "地铁站服务台"),
        "receipt",
    ),
    "community-clean-up": (
        "Swept the snow from the path to the bus stop with two neighbours.",
        "和两位邻居一起清扫了通往公交站的小路上的积雪。",
        ("Path to the bus stop", "通往公交站的小路"),
        "clean",
    ),
}


def _approved_claims_behind_entries(resident: Resident, reviewer: User | None) -> list[Claim]:
    entries = (
        LedgerEntry.objects.filter(
            resident=resident,
            source__code="claims",
            kind=LedgerEntry.Kind.AWARD,
            behaviour_code__in=APPROVED_TEXT,
            reversed_by__isnull=True,
        )
        .select_related("behaviour")
        .order_by("-occurred_at")[:2]
    )
    made = []
    chinese = resident.language.startswith("zh")
    for entry in entries:
        if Claim.objects.filter(ledger_entry=entry).exists():
            continue
        english, chinese_text, (place_en, place_zh), kind = APPROVED_TEXT[entry.behaviour_code]
        filed_at = min(entry.occurred_at + datetime.timedelta(hours=3), entry.recorded_at)
        claim = Claim.objects.create(
            resident=resident,
            behaviour=entry.behaviour,
            description=chinese_text if chinese else english,
            occurred_at=entry.occurred_at,
            place=place_zh if chinese else place_en,
            status=Claim.Status.APPROVED,
            filed_at=filed_at,
            decided_at=entry.recorded_at,
            decided_by=reviewer,
            ledger_entry=entry,
        )
        photos_attach(claim=claim, uploads=[demo_photo(kind, f"{resident.pk}:{entry.external_id}")])
        made.append(claim)
    return made
