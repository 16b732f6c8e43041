from .accounts import OfficeRole, User
from .appeals import Appeal, CalendarDay
from .audit import AuditEvent
from .badges import Badge, ResidentBadge
from .catalogue import Behaviour, CatalogueVersion, Category, DataSource
from .claims import Claim, EvidencePhoto
from .exports import ExportRequest
from .ingest import ApiKey, CardLink, IngestBatch, IngestRecord
from .ledger import GENESIS_HASH, Balance, LedgerEntry, ScoringWindow
from .notifications import Notification
from .residents import ConsentRecord, Resident
from .tiers import Tier, TierChange, TierScheme

__all__ = [
    "GENESIS_HASH",
    "ApiKey",
    "Appeal",
    "AuditEvent",
    "Badge",
    "Balance",
    "Behaviour",
    "CalendarDay",
    "CardLink",
    "CatalogueVersion",
    "Category",
    "Claim",
    "ConsentRecord",
    "DataSource",
    "EvidencePhoto",
    "ExportRequest",
    "IngestBatch",
    "IngestRecord",
    "LedgerEntry",
    "Notification",
    "OfficeRole",
    "Resident",
    "ResidentBadge",
    "ScoringWindow",
    "Tier",
    "TierChange",
    "TierScheme",
    "User",
]
