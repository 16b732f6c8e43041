from .accounts import OfficeRole, User
from .audit import AuditEvent
from .badges import Badge, ResidentBadge
from .catalogue import Behaviour, CatalogueVersion, Category, DataSource
from .exports import ExportRequest
from .ingest import ApiKey, CardLink, IngestBatch, IngestRecord
from .ledger import GENESIS_HASH, Balance, LedgerEntry, ScoringWindow
from .residents import ConsentRecord, Resident
from .tiers import Tier, TierChange, TierScheme

__all__ = [
    "GENESIS_HASH",
    "ApiKey",
    "AuditEvent",
    "Badge",
    "Balance",
    "Behaviour",
    "CardLink",
    "CatalogueVersion",
    "Category",
    "ConsentRecord",
    "DataSource",
    "ExportRequest",
    "IngestBatch",
    "IngestRecord",
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
