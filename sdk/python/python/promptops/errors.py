"""The exceptions the SDK raises: one base class, one subclass per reason.

They mirror the Rust SDK's ``SdkError`` variants; the message is the Rust SDK's, word
for word (it names the prompt, the environment and what to do).
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "PromptopsError",
    "NotFound",
    "Unauthorized",
    "Unavailable",
    "InvalidPrompt",
    "RenderError",
    "ConfigError",
    "BundleError",
]


class PromptopsError(Exception):
    """Every error the promptops SDK raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PromptopsError, LookupError):
    """The environment serves no such prompt (or the bundle holds no such environment)."""

    def __init__(
        self, message: str, *, id: Optional[str] = None, environment: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.id = id
        self.environment = environment


class Unauthorized(PromptopsError):
    """The registry refused the API key (unknown, revoked, or not allowed to read)."""


class Unavailable(PromptopsError, ConnectionError):
    """The registry did not answer within the budget and no last good copy is held."""

    def __init__(
        self, message: str, *, id: Optional[str] = None, environment: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.id = id
        self.environment = environment


class InvalidPrompt(PromptopsError, ValueError):
    """The content is not a valid prompt (a local file with errors, or a served copy
    that does not hash to its announced hash)."""

    def __init__(self, message: str, *, id: Optional[str] = None) -> None:
        super().__init__(message)
        self.id = id


class RenderError(PromptopsError, ValueError):
    """The variables do not fit the prompt (missing, wrong type) or the template failed."""


class ConfigError(PromptopsError, ValueError):
    """The client was set up wrongly (a URL without http://, a negative timeout...)."""


class BundleError(PromptopsError):
    """A bundle file could not be read, was changed, or is not signed by the trusted key."""

    def __init__(self, message: str, *, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path
