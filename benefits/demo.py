"""Demo partners and CreditEase benefits at different tiers. Safe to run again: nothing is added twice.

`load_demo` calls `benefits_demo_load(acting_user=<the demo partner manager>)` after it creates the demo merchant.
"""

import datetime

from django.db import transaction
from django.utils import timezone

from benefits.models import Benefit, Merchant, MerchantLocation
from benefits.services.benefits import benefit_create
from benefits.services.merchants import location_add, merchant_onboard
from citizenpoints.models import Tier, User

BIKES = "west-lake-bikes"  # created by load_demo, with its cashier and manager

PARTNERS = [
    (
        "hangzhou-library",
        "Hangzhou Public Library",
        "杭州图书馆",
        "library",
        "Main library, 123 Jiefang East Road",
        "解放东路123号 总馆",
        "09:00-21:00 daily",
        "每天 09:00-21:00",
    ),
    (
        "riverside-gym",
        "Riverside Fitness",
        "江畔健身",
        "fitness",
        "8 Binjiang Avenue",
        "滨江大道8号",
        "06:30-22:00 daily",
        "每天 06:30-22:00",
    ),
]
LOCATIONS = {
    BIKES: [
        ("Broken Bridge kiosk", "断桥租车点", "Beishan Street, by the Broken Bridge", "北山街断桥旁"),
        ("Su Causeway kiosk", "苏堤租车点", "South end of the Su Causeway", "苏堤南口"),
    ],
    "hangzhou-library": [("Main library lending desk", "总馆借还台", "123 Jiefang East Road", "解放东路123号")],
    "riverside-gym": [("Reception", "前台", "8 Binjiang Avenue", "滨江大道8号")],
}
BENEFITS = [
    # partner, family, min tier, title en, title zh, terms en, terms zh, quota, (limit, period)
    (
        BIKES,
        "go",
        "getting-started",
        "Deposit-free bike hire",
        "免押金租自行车",
        "Hire a city bike without the 200 yuan deposit. Up to 2 hours; pay the usual hourly rate.",
        "租用城市自行车免交200元押金，最长2小时，按正常时价计费。",
        None,
        (2, "day"),
    ),
    (
        "hangzhou-library",
        "library",
        "good",
        "Deposit-free library loans",
        "免押金借阅",
        "Borrow up to 10 books without the 100 yuan reader deposit.",
        "免交100元读者押金，最多借阅10本书。",
        None,
        (1, "month"),
    ),
    (
        "riverside-gym",
        "fitness",
        "very-good",
        "Half-price gym day pass",
        "健身日票半价",
        "A day pass at half price, Monday to Friday.",
        "周一至周五健身日票半价。",
        500,
        (2, "week"),
    ),
    (
        BIKES,
        "travel",
        "outstanding",
        "West Lake boat tour at 30% off",
        "西湖游船七折",
        "30% off a West Lake boat tour ticket, booked at the kiosk.",
        "在租车点购买西湖游船票享七折优惠。",
        200,
        (1, "month"),
    ),
]


@transaction.atomic
def benefits_demo_load(*, acting_user: User) -> list[str]:
    """Create the demo partners, locations and benefits that are missing (through the services, so audited)."""
    created = []
    for slug, name_en, name_zh, category, address_en, address_zh, hours_en, hours_zh in PARTNERS:
        if not Merchant.objects.filter(slug=slug).exists():
            merchant_onboard(
                acting_user=acting_user,
                slug=slug,
                name_en=name_en,
                name_zh=name_zh,
                category=category,
                address_en=address_en,
                address_zh=address_zh,
                opening_hours_en=hours_en,
                opening_hours_zh=hours_zh,
            )
            created.append(name_en)
    bikes = Merchant.objects.filter(slug=BIKES).first()
    if bikes and not bikes.address_en:
        Merchant.objects.filter(pk=bikes.pk).update(
            category="transport",
            address_en="Beishan Street, West Lake",
            address_zh="西湖北山街",
            opening_hours_en="07:00-20:00 daily",
            opening_hours_zh="每天 07:00-20:00",
        )
    for slug, locations in LOCATIONS.items():
        merchant = Merchant.objects.filter(slug=slug).first()
        for name_en, name_zh, address_en, address_zh in locations if merchant else []:
            if not MerchantLocation.objects.filter(merchant=merchant, name_en=name_en).exists():
                location_add(
                    acting_user=acting_user,
                    merchant=merchant,
                    name_en=name_en,
                    name_zh=name_zh,
                    address_en=address_en,
                    address_zh=address_zh,
                )
    start = timezone.localdate() - datetime.timedelta(days=30)
    for slug, family, tier_code, title_en, title_zh, terms_en, terms_zh, quota, (limit, period) in BENEFITS:
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None or Benefit.objects.filter(merchant=merchant, title_en=title_en).exists():
            continue
        tier = Tier.objects.filter(scheme__is_active=True, code=tier_code).first()
        if tier is None:  # another scheme is active: take the tier at the same position in it
            tier = Tier.objects.filter(scheme__is_active=True).order_by("min_score")[
                ["getting-started", "good", "very-good", "outstanding", "excellent"].index(tier_code)
            ]
        benefit_create(
            acting_user=acting_user,
            merchant=merchant,
            family=family,
            title_en=title_en,
            title_zh=title_zh,
            terms_en=terms_en,
            terms_zh=terms_zh,
            min_tier=tier,
            valid_from=start,
            valid_until=start + datetime.timedelta(days=395),
            quota=quota,
            limit_count=limit,
            limit_period=period,
        )
        created.append(title_en)
    return created
