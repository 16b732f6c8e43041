"""What every city starts with: categories, the office's own sources, two tier schemes, the badges, the window.

Five bands (Qianjiang style, 1,000-point scale): base 500, so a newcomer starts in "Getting started" with a near,
visible goal (550, a few months of ordinary civic acts) and "Excellent" (750) takes 250 points in 12 months: an
achievement, not a default. Grades (Seashell/Rongcheng style, base 1,000): those cities reached B-D only through
deductions; with rewards only, every score is at least the base, so the six grades become six steps up from it.
"""

import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations

CATEGORIES = [
    ("volunteering", "Volunteering", "志愿服务"),
    ("blood-donation", "Blood donation", "无偿献血"),
    ("community-care", "Elderly and community care", "敬老与邻里互助"),
    ("reading-culture", "Reading and culture", "阅读与文化"),
    ("green-travel", "Green travel", "绿色出行"),
    ("sport-fitness", "Sport and fitness", "运动健身"),
    ("charity", "Charitable giving", "慈善捐赠"),
    ("good-deeds", "Honesty and good deeds", "诚信与好人好事"),
    ("environment", "Environment and civic life", "环境与文明"),
]
SOURCES = [
    ("claims", "Reviewed resident claims", "经审核的居民申报", "claims"),
    ("office", "Credit office decisions", "信用办决定", "office"),
]
SCHEMES = [
    (
        "five-bands",
        "Five bands",
        "五档",
        "Scores on a 1,000-point scale in five bands, in the style of Hangzhou's Qianjiang Points.",
        "参照杭州钱江分，采用 1000 分制，共五档。",
        500,
        True,
        [
            ("getting-started", "", "Getting started", "起步", 0),
            ("good", "", "Good", "良好", 550),
            ("very-good", "", "Very good", "很好", 600),
            ("outstanding", "", "Outstanding", "出色", 700),
            ("excellent", "", "Excellent", "优秀", 750),
        ],
    ),
    (
        "grades",
        "Grades AAA to D",
        "AAA 至 D 等级",
        "Grades from a base of 1,000, in the style of Weihai's Seashell Points: every grade is a step up.",
        "参照威海海贝分，以 1000 分为基础分：每个等级都是向上的一步。",
        1000,
        False,
        [
            ("d", "D", "Starting out", "起步", 1000),
            ("c", "C", "Making progress", "进步", 1030),
            ("b", "B", "Good", "良好", 1060),
            ("a", "A", "Very good", "优良", 1100),
            ("aa", "AA", "Excellent", "优秀", 1150),
            ("aaa", "AAA", "Outstanding", "卓越", 1200),
        ],
    ),
]
BADGES = [
    (
        "love-messenger", "Love messenger", "爱心使者", "💝",
        "10 or more volunteering or blood-donation records in 12 months.", "12 个月内志愿服务或献血记录达到 10 次以上。",
        ["volunteering", "blood-donation"], 10,
    ),
    (
        "sports-master", "Sports master", "运动达人", "🏅",
        "24 or more sport and fitness records in 12 months.", "12 个月内运动健身记录达到 24 次以上。",
        ["sport-fitness"], 24,
    ),
    (
        "low-carbon-traveller", "Low-carbon traveller", "低碳出行者", "🚇",
        "100 or more metro, bus or shared-bike trips in 12 months.", "12 个月内乘坐地铁、公交或共享单车达到 100 次以上。",
        ["green-travel"], 100,
    ),
    (
        "good-neighbour", "Good neighbour", "好邻居", "🏡",
        "5 or more records of elderly or community care in 12 months.", "12 个月内敬老或邻里互助记录达到 5 次以上。",
        ["community-care"], 5,
    ),
]


def seed(apps, schema_editor):
    Category = apps.get_model("citizenpoints", "Category")
    DataSource = apps.get_model("citizenpoints", "DataSource")
    TierScheme = apps.get_model("citizenpoints", "TierScheme")
    Tier = apps.get_model("citizenpoints", "Tier")
    Badge = apps.get_model("citizenpoints", "Badge")
    ScoringWindow = apps.get_model("citizenpoints", "ScoringWindow")

    categories = {}
    for position, (code, name_en, name_zh) in enumerate(CATEGORIES):
        categories[code], _ = Category.objects.get_or_create(
            code=code, defaults={"name_en": name_en, "name_zh": name_zh, "position": position}
        )
    for code, name_en, name_zh, kind in SOURCES:
        DataSource.objects.get_or_create(code=code, defaults={"name_en": name_en, "name_zh": name_zh, "kind": kind})
    for code, name_en, name_zh, description_en, description_zh, base, active, tiers in SCHEMES:
        scheme, _ = TierScheme.objects.get_or_create(
            code=code,
            defaults={
                "name_en": name_en, "name_zh": name_zh, "description_en": description_en,
                "description_zh": description_zh, "base_score": base, "is_active": active,
            },
        )
        for tier_code, label, tier_en, tier_zh, min_score in tiers:
            Tier.objects.get_or_create(
                scheme=scheme, code=tier_code,
                defaults={"label": label, "name_en": tier_en, "name_zh": tier_zh, "min_score": min_score},
            )
    for code, name_en, name_zh, emoji, description_en, description_zh, category_codes, threshold in BADGES:
        badge, _ = Badge.objects.get_or_create(
            code=code,
            defaults={
                "name_en": name_en, "name_zh": name_zh, "emoji": emoji, "description_en": description_en,
                "description_zh": description_zh, "threshold": threshold, "period_days": 365,
            },
        )
        badge.categories.set([categories[c] for c in category_codes])
    # Points count from local midnight a year ago; the nightly ageing pass moves this forward.
    local = ZoneInfo(settings.TIME_ZONE)
    today = datetime.datetime.now(local).date()
    year_ago = today.replace(year=today.year - 1) if (today.month, today.day) != (2, 29) else today - datetime.timedelta(366)
    ScoringWindow.objects.get_or_create(
        id=1, defaults={"starts_at": datetime.datetime.combine(year_ago, datetime.time.min, tzinfo=local)}
    )


class Migration(migrations.Migration):
    dependencies = [("citizenpoints", "0004_ledger_append_only")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
