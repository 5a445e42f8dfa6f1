# Type hints for the native module (sdk/python/src/lib.rs). Keep in step with it.
from __future__ import annotations

import os
from typing import Any, Awaitable, Dict, List, Literal, Mapping, Optional, Union

_Path = Union[str, "os.PathLike[str]"]
Message = Dict[str, str]
"""A rendered chat message: ``{"role": ..., "content": ...}`` (and ``"name"`` when set)."""

class ReportStats:
    """What reporting has done so far."""

    @property
    def queued(self) -> int:
        """Waiting to be sent."""
    @property
    def sent(self) -> int:
        """Taken by the registry."""
    @property
    def dropped(self) -> int:
        """Dropped because the queue was full (or the client has no registry)."""
    @property
    def failed(self) -> int:
        """Refused by the registry (bad events, a key that may not report)."""

class Prompt:
    """One prompt as an environment serves it (or as a local prompt file reads)."""

    @staticmethod
    def from_source(source: str, name: str = "<source>") -> Prompt:
        """A prompt file's text, checked as ``promptops validate`` checks it.

        Raises ``InvalidPrompt`` (every error, with line:column) when it is not valid.
        """
    @staticmethod
    def from_file(path: _Path) -> Prompt:
        """The prompt file at ``path`` (its id must match its path, as for validate)."""
    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical content (the registry's ETag)."""
    @property
    def environment(self) -> str:
        """The environment that served it (``"local"`` for a prompt file)."""
    @property
    def kind(self) -> Literal["text", "chat"]: ...
    @property
    def model(self) -> Dict[str, Any]:
        """``{"provider", "name", "params"}``."""
    @property
    def variables(self) -> Dict[str, Dict[str, Any]]:
        """Declared variables: name → ``{"type", "required", "default"}``."""
    def render(
        self, vars: Optional[Mapping[str, Any]] = None, /, **kwargs: Any
    ) -> Union[str, List[Message]]:
        """A ``str`` for a text prompt, a list of messages for a chat prompt.

        Variables are checked against their declared types and defaults applied, as
        ``promptops render`` does; keyword arguments win over ``vars``. Raises
        ``RenderError``.
        """

class Client:
    """A client of a promptops registry, or of a bundle (``Client.from_bundle``)."""

    def __init__(
        self,
        url: str,
        *,
        api_key: Optional[str] = None,
        project: Optional[str] = None,
        snapshot_dir: Optional[_Path] = None,
        timeout: float = 0.5,
        refresh_every: float = 60.0,
        watch: bool = True,
        bundle: Optional[_Path] = None,
        trusted_key: Optional[str] = None,
        report_key: Optional[str] = None,
        report_queue: int = 10_000,
        report_batch: int = 500,
        report_every: float = 1.0,
    ) -> None: ...
    @classmethod
    def from_bundle(cls, path: _Path, *, public_key: Optional[str] = None) -> Client:
        """Every prompt from the bundle at ``path``; no registry. Raises ``BundleError``."""
    def get(self, id: str, env: str = "prod") -> Prompt:
        """Memory, else the registry within ``timeout``, else the last good copy.

        Raises ``NotFound``, ``Unauthorized``, ``Unavailable``, ``InvalidPrompt``.
        """
    def get_async(self, id: str, env: str = "prod") -> Awaitable[Prompt]:
        """``get`` for asyncio: ``await client.get_async(...)``."""
    def report(
        self,
        prompt: Prompt,
        *,
        latency_ms: Optional[float] = None,
        input_tokens: Optional[int] = None,
        output_tokens: Optional[int] = None,
        ok: bool = True,
        error: Optional[str] = None,
        model: Optional[str] = None,
        provider: Optional[str] = None,
        cost_usd: Optional[float] = None,
        trace_id: Optional[str] = None,
        span_id: Optional[str] = None,
        request_id: Optional[str] = None,
        input: Any = None,
        output: Any = None,
    ) -> bool:
        """Queues one execution; never blocks. False when it was dropped."""
    def flush(self, timeout: float = 5.0) -> ReportStats:
        """Sends what is queued, waiting at most ``timeout`` seconds."""
    def flush_async(self, timeout: float = 5.0) -> Awaitable[ReportStats]: ...
    def report_stats(self) -> ReportStats: ...
