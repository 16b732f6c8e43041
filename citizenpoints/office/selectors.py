"""Reads for the credit office console."""

from dataclasses import dataclass, field

from citizenpoints.models import Behaviour, CatalogueVersion

COMPARED = (
    "category_id",
    "name_en",
    "name_zh",
    "description_en",
    "description_zh",
    "rule_kind",
    "rule",
    "cap_per_day",
    "cap_per_month",
    "cap_per_year",
    "evidence_required",
)


@dataclass
class BehaviourChange:
    code: str
    before: Behaviour | None
    after: Behaviour | None
    fields: list[str] = field(default_factory=list)  # what differs, for a changed behaviour

    @property
    def kind(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


def catalogue_diff(*, version: CatalogueVersion, against: CatalogueVersion | None) -> list[BehaviourChange]:
    """What `version` adds, removes and changes compared with `against` (usually the published version)."""

    def load(v):
        if v is None:
            return {}
        rows = Behaviour.objects.filter(version=v).select_related("category").prefetch_related("sources")
        return {b.code: b for b in rows}

    old, new = load(against), load(version)
    changes = []
    for code in sorted(old.keys() | new.keys()):
        before, after = old.get(code), new.get(code)
        if before is None or after is None:
            changes.append(BehaviourChange(code, before, after))
            continue
        differing = [name for name in COMPARED if getattr(before, name) != getattr(after, name)]
        if {s.pk for s in before.sources.all()} != {s.pk for s in after.sources.all()}:
            differing.append("sources")
        if differing:
            changes.append(BehaviourChange(code, before, after, differing))
    return changes
