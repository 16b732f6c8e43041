"""Demo data for the points core: a published catalogue drawn from real city schemes, and residents with a year of
believable history.

The catalogue follows what the seeds describe: Hangzhou's Qianjiang Points (volunteering, elderly care, blood
donation, book-borrowing, public transport, gym attendance), Weihai's Seashell Points (volunteering hours with
diminishing returns) and Rongcheng's lists of small civic acts (donations by amount band, starting a community
group, clearing snow, taxi drivers returning lost property), all rewards-only.

Everything goes through the services (catalogue_draft_start, behaviour_save, catalogue_publish, award_grant,
entry_reverse), so caps, badges, tiers and the hash chain are the real thing. Each resident's history comes from a
random generator seeded with their name and ends the day before their account was created, so loading again, even on
a later day, produces the same external ids and award_grant adds nothing.

User-facing strings here are data (name_en/name_zh), not gettext messages.
"""

import datetime
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max
from django.utils import timezone

from citizenpoints.models import (
    Balance,
    Behaviour,
    CatalogueVersion,
    Category,
    DataSource,
    LedgerEntry,
    Resident,
    ResidentBadge,
    ScoringWindow,
    TierChange,
    User,
)
from citizenpoints.services.awards import AwardRefused, award_grant
from citizenpoints.services.catalogue import behaviour_save, catalogue_draft_start, catalogue_publish
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.services.scoring import active_scheme, local_zone, score_of, window_start_for

# --- Departments that send records (DataSource, kind "department"). The seeded "claims" source awards reviewed
# resident claims and "office" the credit office's own decisions.
DEPARTMENTS = [
    ("city-library", "City Library", "市图书馆"),
    ("metro-group", "Metro Group", "地铁集团"),
    ("public-transport", "Public Transport Company", "公交集团"),
    ("blood-centre", "Blood Centre", "血液中心"),
    ("volunteer-federation", "Volunteer Federation", "志愿者联合会"),
    ("sports-bureau", "Sports Bureau", "体育局"),
    ("gym-operators", "Partner gyms and sports centres", "合作健身场馆"),
    ("civil-affairs", "Civil Affairs Bureau", "民政局"),
    ("charity-federation", "Charity Federation", "慈善总会"),
    ("transport-bureau", "Transport Bureau", "交通运输局"),
    ("culture-tourism", "Culture and Tourism Bureau", "文化和旅游局"),
    ("urban-management", "Urban Management Bureau", "城市管理局"),
    ("parks-greening", "Parks and Greening Bureau", "园林绿化局"),
]

WEIHAI_HOURS = {"unit": "hour", "steps": [[20, 1], [80, 2], [200, 3], [None, 4]]}
DONATION_BANDS = {"unit": "yuan", "bands": [[100, 1000, 1], [1000, 10000, 5], [10000, 100000, 10], [100000, None, 20]]}


def _behaviour(
    code: str,
    category: str,
    name: tuple[str, str],
    description: tuple[str, str],
    sources: list[str],
    *,
    points: str | None = None,
    rule_kind: str = "fixed",
    rule: dict | None = None,
    day: int | None = None,
    month: int | None = None,
    year: int | None = None,
    evidence: bool = False,
) -> dict:
    return {
        "code": code,
        "category": category,
        "name_en": name[0],
        "name_zh": name[1],
        "description_en": description[0],
        "description_zh": description[1],
        "rule_kind": rule_kind,
        "rule": rule if rule is not None else {"points": points},
        "cap_per_day": day,
        "cap_per_month": month,
        "cap_per_year": year,
        "evidence_required": evidence,
        "sources": sources,
    }


CATALOGUE = [
    # Volunteering
    _behaviour(
        "volunteer-hours", "volunteering",
        ("Registered volunteer service", "注册志愿服务"),
        ("Hours of volunteer service recorded by the Volunteer Federation: each calendar year the first 20 hours "
         "earn a point an hour, and each later band takes more hours per point, as in Weihai.",
         "志愿者联合会记录的志愿服务时长：每个自然年前 20 小时每小时计 1 分，之后每档每分所需时长递增（参照威海）。"),
        ["volunteer-federation"], rule_kind="per_unit", rule=WEIHAI_HOURS,
    ),
    _behaviour(
        "volunteer-team-lead", "volunteering",
        ("Leading a volunteer team", "担任志愿服务队领队"),
        ("Leading a registered team at a volunteer activity, confirmed by the Volunteer Federation.",
         "在志愿活动中带领注册志愿服务队开展服务，由志愿者联合会确认。"),
        ["volunteer-federation"], points="5", year=20,
    ),
    _behaviour(
        "major-event-volunteer", "volunteering",
        ("Volunteering at a major city event", "大型赛会志愿服务"),
        ("Serving as a registered volunteer at a major sports or cultural event held in the city.",
         "在本市举办的大型体育或文化赛会中担任注册志愿者。"),
        ["volunteer-federation"], points="10", year=20,
    ),
    _behaviour(
        "emergency-volunteer", "volunteering",
        ("Flood and typhoon relief volunteering", "防汛抗台应急志愿服务"),
        ("Helping in flood or typhoon relief with one of the Volunteer Federation's emergency teams.",
         "参加志愿者联合会应急队伍的防汛抗台志愿服务。"),
        ["volunteer-federation"], points="10", year=30,
    ),
    # Blood donation (named for the act only: nothing about the donor's body is recorded)
    _behaviour(
        "blood-donation-whole", "blood-donation",
        ("Blood donation (whole blood)", "无偿献血（全血）"),
        ("A voluntary donation of whole blood at a Blood Centre site or donation bus.",
         "在血液中心献血点或献血车无偿捐献全血。"),
        ["blood-centre"], points="10", year=20,
    ),
    _behaviour(
        "blood-donation-platelets", "blood-donation",
        ("Platelet donation", "无偿捐献血小板"),
        ("A voluntary platelet donation by apheresis at the Blood Centre.",
         "在血液中心无偿捐献单采血小板。"),
        ["blood-centre"], points="6", month=12, year=60,
    ),
    _behaviour(
        "blood-drive-organiser", "blood-donation",
        ("Organising a group blood donation day", "组织团体献血活动"),
        ("Organising a group donation day at a workplace or residential community with the Blood Centre.",
         "与血液中心合作，在单位或小区组织团体献血日。"),
        ["blood-centre"], points="5", year=10,
    ),
    # Elderly and community care
    _behaviour(
        "elderly-visit", "community-care",
        ("Visiting an older neighbour who lives alone", "结对探访独居老人"),
        ("A regular visit in the Civil Affairs befriending programme for older residents, logged by the community "
         "centre.",
         "参加民政部门结对关爱项目，定期探访独居老人，由社区服务中心登记。"),
        ["civil-affairs"], points="2", month=8,
    ),
    _behaviour(
        "elderly-canteen", "community-care",
        ("Serving at a community canteen for older residents", "社区老年食堂助餐服务"),
        ("Serving or delivering meals for older residents from a community canteen.",
         "在社区老年食堂为老年人配餐或送餐上门。"),
        ["civil-affairs"], points="1", day=1, month=4,
    ),
    _behaviour(
        "neighbour-help", "community-care",
        ("Helping a neighbour", "邻里互助"),
        ("Practical help for a neighbour (shopping, small repairs, going with them to an appointment), claimed with "
         "a photo or a note from the neighbour.",
         "为邻居提供实际帮助（代购、小修小补、陪同办事），凭照片或邻居证明申报。"),
        ["claims"], points="1", month=4, evidence=True,
    ),
    _behaviour(
        "community-group-founded", "community-care",
        ("Starting a community group", "发起成立社区社会组织"),
        ("Founding a community group (a reading circle, a walking club, a repair café) registered with Civil "
         "Affairs.",
         "发起成立并在民政部门备案的社区社会组织，如读书会、健步队、便民维修队。"),
        ["civil-affairs"], points="10", year=10,
    ),
    # Reading and culture
    _behaviour(
        "library-loan", "reading-culture",
        ("Borrowing from the City Library", "市图书馆借阅"),
        ("A book or other item borrowed from the City Library or one of its branches.",
         "在市图书馆或分馆借阅图书或其他资料。"),
        ["city-library"], points="0.5", day=1, month=3, year=30,
    ),
    _behaviour(
        "library-event", "reading-culture",
        ("Taking part in a library reading event", "参加图书馆阅读活动"),
        ("Attending a talk, reading club or workshop at the City Library.",
         "参加市图书馆举办的讲座、读书会或工作坊。"),
        ["city-library"], points="2", month=4,
    ),
    _behaviour(
        "book-donation", "reading-culture",
        ("Donating books to the library", "向图书馆捐赠图书"),
        ("Books given to the City Library's shared shelves and accepted by the library.",
         "向市图书馆共享书架捐赠图书，经图书馆验收。"),
        ["city-library"], points="2", year=10,
    ),
    _behaviour(
        "museum-visit", "reading-culture",
        ("Visiting a public museum or exhibition", "参观公共博物馆或展览"),
        ("A visit to a public museum or exhibition, recorded by its booking system.",
         "参观公共博物馆或展览，以预约系统记录为准。"),
        ["culture-tourism"], points="1", month=2, year=12,
    ),
    # Green travel
    # Small acts earn quarter points, not 0.2: SQLite sums decimals as binary floats, and sums of 0.2 drift enough
    # (135.700000000001) for verify_balances to report a mismatch. Quarters add up exactly.
    _behaviour(
        "metro-ride", "green-travel",
        ("Metro ride", "乘坐地铁"),
        ("A journey on the metro, counted when the trip ends.", "乘坐地铁出行一次，以出站记录为准。"),
        ["metro-group"], points="0.25", day=1, month=5,
    ),
    _behaviour(
        "bus-ride", "green-travel",
        ("Bus ride", "乘坐公交"),
        ("A journey on a city bus, counted when the fare is paid.", "乘坐城市公交出行一次，以刷卡或扫码记录为准。"),
        ["public-transport"], points="0.25", day=1, month=5,
    ),
    _behaviour(
        "public-bike-ride", "green-travel",
        ("Public bicycle ride", "骑行公共自行车"),
        ("A ride of five minutes or more on a city public bicycle.", "骑行城市公共自行车一次，时长五分钟以上。"),
        ["public-transport"], points="0.25", day=1, month=3,
    ),
    # Sport and fitness
    _behaviour(
        "gym-visit", "sport-fitness",
        ("Workout at a partner gym", "合作健身场馆锻炼"),
        ("A check-in of at least 30 minutes at a partner gym or public sports centre.",
         "在合作健身场馆或公共体育中心签到锻炼 30 分钟以上。"),
        ["gym-operators"], points="0.5", day=1, month=4, year=40,
    ),
    _behaviour(
        "city-sports-event", "sport-fitness",
        ("Taking part in a city sports event", "参加全民健身赛事"),
        ("Finishing a city marathon, fun run or community tournament run with the Sports Bureau.",
         "完成体育局联合主办的城市马拉松、迷你跑或社区赛事。"),
        ["sports-bureau"], points="3", month=6, year=24,
    ),
    _behaviour(
        "sports-instructor", "sport-fitness",
        ("Volunteer sports instructor session", "社会体育指导员志愿指导"),
        ("Leading a free public exercise session in a park or community as a registered sports instructor.",
         "作为注册社会体育指导员，在公园或社区免费带领居民锻炼。"),
        ["sports-bureau"], points="2", month=8,
    ),
    # Charitable giving
    _behaviour(
        "charity-donation", "charity",
        ("Charitable donation", "慈善捐款"),
        ("Money given through the Charity Federation, scored by amount band as in Rongcheng: from 1,000 to "
         "10,000 yuan earns 5 points.",
         "通过慈善总会捐款，参照荣成按金额分档计分：1000 至 10000 元计 5 分。"),
        ["charity-federation"], rule_kind="amount_bands", rule=DONATION_BANDS, year=20,
    ),
    _behaviour(
        "goods-donation", "charity",
        ("Donating clothes or household goods", "捐赠衣物和生活用品"),
        ("Clean clothes or household goods given at a Charity Federation collection point.",
         "在慈善总会募捐点捐赠洁净衣物或生活用品。"),
        ["charity-federation"], points="1", month=2, year=6,
    ),
    # Honesty and good deeds
    _behaviour(
        "lost-property-returned", "good-deeds",
        ("Returning lost property", "拾金不昧"),
        ("Handing found money or belongings back to the owner or to a lost-and-found desk, claimed with the "
         "receipt.",
         "将拾到的财物交还失主或失物招领处，凭回执申报。"),
        ["claims"], points="3", month=9, evidence=True,
    ),
    _behaviour(
        "taxi-lost-property", "good-deeds",
        ("Taxi driver returning a passenger's belongings", "出租车驾驶员归还乘客遗失物品"),
        ("A taxi driver returning property left in the cab, confirmed by the Transport Bureau, as in Rongcheng.",
         "出租车驾驶员归还乘客遗留在车内的物品，由交通运输局确认（参照荣成）。"),
        ["transport-bureau"], points="3", month=9,
    ),
    _behaviour(
        "taxi-service-commendation", "good-deeds",
        ("Commended taxi service", "出租车优质服务表彰"),
        ("A taxi driver commended by the Transport Bureau for courteous and honest service.",
         "出租车驾驶员因文明、诚信服务受到交通运输局表彰。"),
        ["transport-bureau"], points="5", year=10,
    ),
    _behaviour(
        "good-deed-commendation", "good-deeds",
        ("Commended for a brave or good deed", "见义勇为或好人好事表彰"),
        ("A city commendation for stepping in to help someone in danger or for a notable good deed.",
         "因见义勇为或突出的好人好事受到市级表彰。"),
        ["office"], points="20", year=40,
    ),
    # Environment and civic life
    _behaviour(
        "recycling-drop", "environment",
        ("Using a recycling station", "再生资源回收站交投"),
        ("Recyclables handed in at a community recycling station, weighed and recorded.",
         "在社区再生资源回收站交投可回收物，称重登记。"),
        ["urban-management"], points="0.25", day=1, month=2,
    ),
    _behaviour(
        "tree-planting", "environment",
        ("Voluntary tree planting", "义务植树"),
        ("Planting trees on a city tree-planting day organised by the Parks and Greening Bureau.",
         "参加园林绿化局组织的全民义务植树活动。"),
        ["parks-greening"], points="3", year=6,
    ),
    _behaviour(
        "community-clean-up", "environment",
        ("Clearing snow or litter in the neighbourhood", "社区扫雪与环境清理"),
        ("Sweeping snow, or clearing litter and overgrown plants from shared spaces, claimed with before-and-after "
         "photos.",
         "清扫积雪，或清理公共区域的垃圾和杂草，凭前后对比照片申报。"),
        ["claims"], points="1", month=4, evidence=True,
    ),
]  # fmt: skip

PUBLISH_REASON = (
    "First public catalogue: civic acts recorded by city departments or claimed by residents with evidence, "
    "modelled on Hangzhou's Qianjiang Points, Weihai's Seashell Points and Rongcheng. Rewards only."
)


def demo_sources_ensure() -> dict[str, DataSource]:
    """The departments above (created if missing) and the seeded claims and office sources, by code."""
    for code, name_en, name_zh in DEPARTMENTS:
        DataSource.objects.get_or_create(
            code=code, defaults={"name_en": name_en, "name_zh": name_zh, "kind": DataSource.Kind.DEPARTMENT}
        )
    return {source.code: source for source in DataSource.objects.all()}


def demo_catalogue_load(*, editor: User) -> CatalogueVersion | None:
    """Draft, fill and publish the demo catalogue through the services. Does nothing if a version is published.

    Returns the version it published, or None. `editor` must hold the catalogue editor role.
    """
    sources = demo_sources_ensure()
    if CatalogueVersion.objects.filter(status=CatalogueVersion.Status.PUBLISHED).exists():
        return None
    draft = CatalogueVersion.objects.filter(status=CatalogueVersion.Status.DRAFT).first()
    draft = draft or catalogue_draft_start(acting_user=editor)
    categories = {category.code: category for category in Category.objects.all()}
    for spec in CATALOGUE:
        spec = dict(spec)
        behaviour_save(
            acting_user=editor,
            version=draft,
            category=categories[spec.pop("category")],
            sources=[sources[code] for code in spec.pop("sources")],
            **spec,
        )
    return catalogue_publish(acting_user=editor, version=draft, reason=PUBLISH_REASON)


# --- Residents' histories ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One record a department sends (or a reviewed claim), and when it reaches the programme."""

    behaviour: str
    source: str
    prefix: str  # the department's id scheme, e.g. "metro"
    occurred_at: datetime.datetime
    recorded_after: datetime.timedelta
    quantity: Decimal | None = None
    amount: Decimal | None = None
    suffix: str = ""

    def external_id(self, who: str) -> str:
        local = self.occurred_at.astimezone(local_zone())
        return f"{self.prefix}-{local:%Y-%m-%d-%H%M}-{who}{self.suffix}"


class Diary:
    """Builds one resident's records day by day, from a seeded random generator."""

    def __init__(self, who: str, first: datetime.date, last: datetime.date) -> None:
        self.rng = random.Random(f"citypoints-demo:{who}")
        self.first, self.last = first, last
        self.records: list[Record] = []

    def days(self) -> Iterator[datetime.date]:
        day = self.first
        while day <= self.last:
            yield day
            day += datetime.timedelta(days=1)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def at(self, day: datetime.date, hour: int, minute: int | None = None) -> datetime.datetime:
        minute = self.rng.randrange(60) if minute is None else minute
        return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=local_zone())

    def add(self, behaviour: str, when: datetime.datetime, *, lag_days=(1, 1), suffix: str = "", **values) -> None:
        """`lag_days`: the department sends its batch between these many days later (0: the same day)."""
        source, prefix = SENDERS[behaviour]
        days = self.rng.randint(*lag_days)
        if days == 0:
            lag = datetime.timedelta(hours=self.rng.randint(2, 5), minutes=self.rng.randrange(60))
        else:  # a nightly batch, or a reviewer's working day for claims
            sent = datetime.datetime.combine(
                when.astimezone(local_zone()).date() + datetime.timedelta(days=days),
                datetime.time(10 if source == "claims" else 1, 0),
                tzinfo=local_zone(),
            ) + datetime.timedelta(minutes=self.rng.randrange(300 if source == "claims" else 120))
            lag = sent - when
        values = {k: Decimal(str(v)) for k, v in values.items()}
        self.records.append(Record(behaviour, source, prefix, when, lag, suffix=suffix, **values))

    def on(self, month: int, day: int) -> datetime.date | None:
        """The date `month`/`day` inside this diary's span, if it has one."""
        for year in (self.last.year, self.last.year - 1):
            try:
                date = datetime.date(year, month, day)
            except ValueError:
                continue
            if self.first <= date <= self.last:
                return date
        return None

    def nth(self, fraction: float) -> datetime.date:
        """The day `fraction` of the way through the span."""
        return self.first + datetime.timedelta(days=int((self.last - self.first).days * fraction))


# behaviour code -> (source code, the prefix of that source's record ids)
SENDERS = {
    "volunteer-hours": ("volunteer-federation", "vol"),
    "volunteer-team-lead": ("volunteer-federation", "vol-lead"),
    "major-event-volunteer": ("volunteer-federation", "vol-event"),
    "emergency-volunteer": ("volunteer-federation", "vol-relief"),
    "blood-donation-whole": ("blood-centre", "donation"),
    "blood-donation-platelets": ("blood-centre", "apheresis"),
    "blood-drive-organiser": ("blood-centre", "drive"),
    "elderly-visit": ("civil-affairs", "visit"),
    "elderly-canteen": ("civil-affairs", "canteen"),
    "neighbour-help": ("claims", "claim-help"),
    "community-group-founded": ("civil-affairs", "group"),
    "library-loan": ("city-library", "loan"),
    "library-event": ("city-library", "event"),
    "book-donation": ("city-library", "books"),
    "museum-visit": ("culture-tourism", "museum"),
    "metro-ride": ("metro-group", "metro"),
    "bus-ride": ("public-transport", "bus"),
    "public-bike-ride": ("public-transport", "bike"),
    "gym-visit": ("gym-operators", "gym"),
    "city-sports-event": ("sports-bureau", "race"),
    "sports-instructor": ("sports-bureau", "instructor"),
    "charity-donation": ("charity-federation", "gift"),
    "goods-donation": ("charity-federation", "goods"),
    "lost-property-returned": ("claims", "claim-found"),
    "taxi-lost-property": ("transport-bureau", "taxi-found"),
    "taxi-service-commendation": ("transport-bureau", "taxi-award"),
    "good-deed-commendation": ("office", "commendation"),
    "recycling-drop": ("urban-management", "recycle"),
    "tree-planting": ("parks-greening", "trees"),
    "community-clean-up": ("claims", "claim-clean"),
}


def _weekday(day: datetime.date) -> bool:
    return day.weekday() < 5


def commuter(d: Diary) -> None:
    """Li Na: metro to work Monday to Thursday (home on Fridays), the bus some days; a reader who volunteers at the
    library once a month."""
    for day in d.days():
        if day.weekday() < 4 and d.chance(0.9):
            ride = "metro-ride" if d.chance(0.85) else "bus-ride"
            d.add(ride, d.at(day, 8, d.rng.randrange(5, 55)))
            d.add(ride, d.at(day, 18, d.rng.randrange(0, 50)))
        if day.weekday() == 5:
            if d.chance(0.3):
                d.add("public-bike-ride", d.at(day, d.rng.randint(10, 16)))
            if d.chance(0.08):
                d.add("library-event", d.at(day, 14, 30))
            if day.day <= 7 and d.chance(0.75):
                d.add("volunteer-hours", d.at(day, 9, 0), lag_days=(1, 3), quantity=3)
        if day.weekday() == 6:
            if d.chance(0.35):
                when = d.at(day, d.rng.randint(10, 16))
                d.add("library-loan", when)
                if d.chance(0.5):
                    d.add("library-loan", when + datetime.timedelta(minutes=1))
            if d.chance(0.1):
                d.add("museum-visit", d.at(day, d.rng.randint(10, 15)))
            if d.chance(0.5):
                d.add("recycling-drop", d.at(day, 9))
    if tree_day := d.on(3, 12):  # China's tree-planting day
        d.add("tree-planting", d.at(tree_day, 9, 30), lag_days=(2, 4))
    d.add("charity-donation", d.at(d.nth(0.3), 20, 15), amount=2000)
    # The Charity Federation sends one gift twice under two ids; the reviewer reverses the copy (see HISTORIES).
    gift = d.at(d.nth(0.7), 21, 5)
    d.add("charity-donation", gift, amount=1500)
    d.add("charity-donation", gift, amount=1500, suffix="-resent", lag_days=(3, 3))


def volunteer(d: Diary) -> None:
    """Wang Wei: a volunteer most Saturdays and a regular blood and platelet donor."""
    whole_blood = [d.nth(0.1), d.nth(0.62)]  # at least six months apart
    platelets_from = d.nth(0.15)
    hours = Counter()  # this calendar year's hours, which set how many hours a point takes
    for day in d.days():
        if day.weekday() == 5 and d.chance(0.8):
            # Four-hour shifts, three-hour ones once past 80 hours in the year, so every award is a whole number of
            # points or a half (thirds would not add up exactly on SQLite; see the note above the catalogue's rides).
            shift = 4 if hours[day.year] < 80 else 3
            hours[day.year] += shift
            d.add("volunteer-hours", d.at(day, 9, 0), lag_days=(1, 3), quantity=shift)
        if day.weekday() == 6 and d.chance(0.12):
            d.add("volunteer-team-lead", d.at(day, 8, 30), lag_days=(1, 3))
        if day in whole_blood:
            d.add("blood-donation-whole", d.at(day, 10), lag_days=(0, 0))
        elif (
            day >= platelets_from
            and (day - platelets_from).days % 21 == 0
            and all(abs((day - whole).days) > 30 for whole in whole_blood)
        ):
            d.add("blood-donation-platelets", d.at(day, 15), lag_days=(0, 0))
        if day.day in (1, 15) and d.chance(0.9):
            d.add("elderly-visit", d.at(day, 16))
        if _weekday(day) and d.chance(0.15):
            d.add("metro-ride", d.at(day, 8))
            d.add("metro-ride", d.at(day, 19))
    d.add("major-event-volunteer", d.at(d.nth(0.45), 7, 30), lag_days=(3, 6))
    d.add("blood-drive-organiser", d.at(d.nth(0.5), 9, 0), lag_days=(1, 2))
    d.add("blood-drive-organiser", d.at(d.nth(0.85), 9, 0), lag_days=(1, 2))
    for relief in (d.on(7, 3), d.on(9, 12)):  # a summer flood and an autumn typhoon
        if relief:
            d.add("emergency-volunteer", d.at(relief, 6, 0), lag_days=(2, 5))
    if giving_day := d.on(9, 9):  # the national "99 Giving Day"
        d.add("charity-donation", d.at(giving_day, 9, 9), amount=12000)
    else:
        d.add("charity-donation", d.at(d.nth(0.8), 20, 0), amount=12000)
    for snow in (d.on(1, 22), d.on(2, 6), d.on(12, 18)):
        if snow:
            d.add("community-clean-up", d.at(snow, 7), lag_days=(1, 3))
    d.add("goods-donation", d.at(d.nth(0.9), 11))
    # He pulled a child out of the canal; the city's commendation reached the programme about ten days later.
    d.add("good-deed-commendation", d.at(d.nth(0.55), 10, 0), lag_days=(8, 12))


def gym_goer(d: Diary) -> None:
    """Emma Clarke: the gym three or four times a week, a few races, a bike on Sundays."""
    for day in d.days():
        if day.weekday() in (0, 2, 4) and d.chance(0.75):
            d.add("gym-visit", d.at(day, d.rng.choice([7, 19])))
        if day.weekday() == 5 and d.chance(0.4):
            d.add("gym-visit", d.at(day, 10))
        if day.weekday() == 6:
            if d.chance(0.5):
                d.add("public-bike-ride", d.at(day, d.rng.randint(9, 17)))
            if d.chance(0.08):
                d.add("library-loan", d.at(day, 15))
            if d.chance(0.04):
                d.add("museum-visit", d.at(day, 11))
    for fraction in (0.1, 0.3, 0.55, 0.75, 0.9):
        d.add("city-sports-event", d.at(d.nth(fraction), 7, 30), lag_days=(2, 5))
    d.add("major-event-volunteer", d.at(d.nth(0.65), 6, 30), lag_days=(3, 6))  # a water station at the marathon


def carer(d: Diary) -> None:
    """Chen Jie: retired, visits older neighbours, serves at the community canteen, started a walking club."""
    club_founded = d.nth(0.35)
    for day in d.days():
        if day > club_founded and day.weekday() == 6 and day.day <= 7 and d.chance(0.9):
            d.add("sports-instructor", d.at(day, 7, 0), lag_days=(1, 3))  # leads the club's morning walk
        if day.weekday() in (1, 4) and d.chance(0.8):
            d.add("elderly-visit", d.at(day, 15))
        if day.weekday() in (0, 2, 3) and d.chance(0.5):
            d.add("elderly-canteen", d.at(day, 11, 0))
        if d.chance(0.035):
            d.add("neighbour-help", d.at(day, d.rng.randint(9, 18)), lag_days=(1, 4))
        if day.weekday() == 2 and d.chance(0.6):
            d.add("bus-ride", d.at(day, 9))
            d.add("bus-ride", d.at(day, 12))
        if day.weekday() == 5 and d.chance(0.6):
            d.add("recycling-drop", d.at(day, 8))
        if day.day == 10 and d.chance(0.9):
            d.add("volunteer-hours", d.at(day, 14, 0), lag_days=(1, 3), quantity=2)
    d.add("community-group-founded", d.at(club_founded, 10, 0), lag_days=(5, 10))
    d.add("goods-donation", d.at(d.nth(0.25), 10))
    d.add("goods-donation", d.at(d.nth(0.75), 10))
    d.add("charity-donation", d.at(d.nth(0.5), 19, 40), amount=2000)
    if tree_day := d.on(3, 12):
        d.add("tree-planting", d.at(tree_day, 9, 30), lag_days=(2, 4))


def taxi_driver(d: Diary) -> None:
    """Zhao Lei: a taxi driver who returns what passengers leave behind and gives blood, as in Rongcheng."""
    for day in d.days():
        if d.chance(0.04):
            d.add("taxi-lost-property", d.at(day, d.rng.randint(7, 22)), lag_days=(2, 7))
        if day.day == 20 and d.chance(0.5):
            d.add("volunteer-hours", d.at(day, 9, 0), lag_days=(1, 3), quantity=4)  # free rides for older people
    for exam_day in (d.on(6, 7), d.on(6, 8)):  # driving students to the national exam
        if exam_day:
            d.add("volunteer-hours", d.at(exam_day, 6, 30), lag_days=(1, 3), quantity=8)
    d.add("blood-donation-whole", d.at(d.on(7, 18) or d.nth(0.6), 10), lag_days=(0, 0))
    d.add("taxi-service-commendation", d.at(d.on(1, 16) or d.nth(0.2), 10, 0), lag_days=(5, 8))


def reader(d: Diary) -> None:
    """Zhang Min: joined ten weeks ago; borrows books, takes the bus, handed in a wallet found on it."""
    for day in d.days():
        if day.weekday() == 5 and d.chance(0.6):
            d.add("library-loan", d.at(day, d.rng.randint(10, 16)))
        if _weekday(day) and d.chance(0.25):
            d.add("bus-ride", d.at(day, 7, d.rng.randrange(30, 59)))
    d.add("library-event", d.at(d.nth(0.5), 14, 30))
    d.add("lost-property-returned", d.at(d.nth(0.4), 18, 20), lag_days=(1, 3))


@dataclass(frozen=True)
class History:
    pattern: Callable[[Diary], None]
    joined_days_ago: int  # before the account was created; at most 364, so the history (from the next day) fits
    # the 12-month scoring window on the day the demo is first loaded
    reversal: tuple[str, str] | None = None  # (external id suffix of the reversed record, the reviewer's reason)


HISTORIES = {
    "li.na": History(
        commuter,
        361,
        reversal=(
            "-resent",
            "The Charity Federation sent the same 1,500-yuan donation twice under two record ids. This copy is "
            "removed; the original record keeps its 5 points.",
        ),
    ),
    "wang.wei": History(volunteer, 364),
    "emma.clarke": History(gym_goer, 300),
    "chen.jie": History(carer, 340),
    "zhao.lei": History(taxi_driver, 355),
    "zhang.min": History(reader, 70),
}


@dataclass(frozen=True)
class ResidentSummary:
    email: str
    score: Decimal
    tier: str
    badges: list[str]
    entries: int
    created: int
    refused: Counter


def _window_floor(now: datetime.datetime) -> datetime.datetime:
    """From when records count, both now and in the stored window that balances are summed from."""
    return max(ScoringWindow.objects.values_list("starts_at", flat=True).get(pk=1), window_start_for(now))


def demo_history_load(*, residents: dict[str, Resident], reviewer: User) -> list[ResidentSummary] | None:
    """Give each demo resident (by email local part) their year of records through award_grant; idempotent.

    Returns None, loading nothing, if the published catalogue is not the demo's.
    """
    published = set(
        Behaviour.objects.filter(version__status=CatalogueVersion.Status.PUBLISHED).values_list("code", flat=True)
    )
    if not set(SENDERS) <= published:
        return None
    sources = {source.code: source for source in DataSource.objects.all()}
    now = timezone.now()
    floor = _window_floor(now)
    summaries = []
    for who, history in HISTORIES.items():
        resident = residents.get(who)
        if resident is None:
            continue
        created, refused = _resident_history_load(resident, who, history, sources, reviewer, floor, now)
        summaries.append(_summary(resident, created, refused))
    return summaries


def _resident_history_load(resident, who, history, sources, reviewer, floor, now) -> tuple[int, Counter]:
    anchor = resident.user.date_joined.astimezone(local_zone()).date()  # fixed once the account exists
    joined = anchor - datetime.timedelta(days=history.joined_days_ago)
    # The whole diary is drawn whatever today is, so its records (and their ids) are the same on every load; the
    # ones that have since left the scoring window are dropped, not redrawn.
    diary = Diary(who, joined + datetime.timedelta(days=1), anchor - datetime.timedelta(days=1))
    history.pattern(diary)
    records = sorted(
        (record for record in diary.records if record.occurred_at >= floor),
        key=lambda record: (record.occurred_at + record.recorded_after, record.occurred_at),
    )
    if not LedgerEntry.objects.filter(resident=resident).exists():
        _backdate_joining(resident, diary.at(joined, 20, 30))

    tier_id = Balance.objects.values_list("tier_id", flat=True).get(pk=resident.pk)
    created, refused = 0, Counter()
    for record in records:  # in the order they reach the programme
        recorded_at = min(record.occurred_at + record.recorded_after, now)
        try:
            result = award_grant(
                resident=resident,
                behaviour_code=record.behaviour,
                source=sources[record.source],
                external_id=record.external_id(who),
                occurred_at=record.occurred_at,
                quantity=record.quantity,
                amount=record.amount,
                now=recorded_at,
            )
        except AwardRefused as refusal:
            if refusal.code not in {"cap_reached", "below_minimum"}:
                raise
            refused[refusal.code] += 1
            continue
        if not result.created:
            continue
        created += 1
        new_tier_id = Balance.objects.values_list("tier_id", flat=True).get(pk=resident.pk)
        if new_tier_id != tier_id:  # date the tier change when the record arrived, not when the demo was loaded
            change = TierChange.objects.filter(resident=resident, to_tier_id=new_tier_id).aggregate(last=Max("pk"))
            TierChange.objects.filter(pk=change["last"]).update(changed_at=recorded_at)
            tier_id = new_tier_id

    if history.reversal:
        suffix, reason = history.reversal
        entry = (
            LedgerEntry.objects.filter(resident=resident, kind=LedgerEntry.Kind.AWARD, external_id__endswith=suffix)
            .order_by("seq")
            .first()
        )
        if entry is not None and not LedgerEntry.objects.filter(reverses=entry).exists():
            entry_reverse(entry=entry, acting_user=reviewer, reason=reason)
    return created, refused


def _backdate_joining(resident: Resident, joined_at: datetime.datetime) -> None:
    """Demo only: the resident joined before their history began, so "member since" reads true."""
    Resident.objects.filter(pk=resident.pk).update(joined_at=joined_at)
    resident.consents.update(accepted_at=joined_at)
    resident.tier_changes.filter(cause=TierChange.Cause.JOINED).update(changed_at=joined_at)
    resident.joined_at = joined_at


def _summary(resident: Resident, created: int, refused: Counter) -> ResidentSummary:
    scheme = active_scheme()
    balance = Balance.objects.select_related("tier").get(pk=resident.pk)
    badges = ResidentBadge.objects.filter(resident=resident).select_related("badge").order_by("awarded_at")
    return ResidentSummary(
        email=resident.user.email,
        score=score_of(balance=balance, scheme=scheme),
        tier=str(balance.tier),
        badges=[held.badge.name_en for held in badges],
        entries=LedgerEntry.objects.filter(resident=resident).count(),
        created=created,
        refused=refused,
    )


def demo_summaries_refresh(summaries: list[ResidentSummary]) -> list[ResidentSummary]:
    """The summaries as they stand once every part's demo has loaded (an approved claim or a granted appeal adds
    points after the histories), so the scores printed are the scores residents see."""
    emails = [summary.email for summary in summaries]
    residents = {r.user.email: r for r in Resident.objects.select_related("user").filter(user__email__in=emails)}
    return [_summary(residents[summary.email], summary.created, summary.refused) for summary in summaries]
