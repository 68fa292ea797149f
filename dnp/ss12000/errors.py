"""The SS 12000 API's rejection of a caller (shared by the token check and the key cache)."""

from __future__ import annotations


class AuthError(Exception):
    """A rejected request: HTTP status, stable code, and a message that never contains the token."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_dict(self) -> dict:
        """The API error body ``{code, message}``."""
        return {"code": self.code, "message": self.message}
