from .accounts import OfficeRole, User
from .audit import AuditEvent
from .badges import Badge, ResidentBadge
from .catalogue import Behaviour, CatalogueVersion, Category, DataSource
from .ledger import GENESIS_HASH, Balance, LedgerEntry, ScoringWindow
from .residents import ConsentRecord, Resident
from .tiers import Tier, TierChange, TierScheme

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "Badge",
    "Balance",
    "Behaviour",
    "CatalogueVersion",
    "Category",
    "ConsentRecord",
    "DataSource",
    "LedgerEntry",
    "OfficeRole",
    "Resident",
    "ResidentBadge",
    "ScoringWindow",
    "Tier",
    "TierChange",
    "TierScheme",
    "User",
]
