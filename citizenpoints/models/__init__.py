from .accounts import OfficeRole, User
from .residents import ConsentRecord, Resident

__all__ = ["ConsentRecord", "OfficeRole", "Resident", "User"]
