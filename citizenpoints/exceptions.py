"""One error type for every refused business action.

`code` is stable and untranslated (tests and API clients match on it); `message` is translated and shown to people.
"""

from typing import Any


class ApplicationError(Exception):
    def __init__(self, message: str, *, code: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}

    def __str__(self) -> str:
        return str(self.message)
