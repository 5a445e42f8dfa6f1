"""promptops: fetch, render and report governed prompts from a promptops registry.

This package is a binding of the Rust runtime SDK (``promptops_client::sdk``): the
client, its caches and background tasks, and the renderer are the Rust ones, so a
prompt renders here exactly as ``promptops render`` renders it.

    from promptops import Client

    client = Client("http://registry:8080", api_key="po_...")
    prompt = client.get("support.answer", env="prod")
    text = prompt.render({"question": "Where is my order?"})

See ``docs/python-sdk.md`` in the repository for the whole API.
"""

from ._native import Client, Prompt, ReportStats
from .errors import (
    BundleError,
    ConfigError,
    InvalidPrompt,
    NotFound,
    PromptopsError,
    RenderError,
    Unauthorized,
    Unavailable,
)

__all__ = [
    "Client",
    "Prompt",
    "ReportStats",
    "PromptopsError",
    "NotFound",
    "Unauthorized",
    "Unavailable",
    "InvalidPrompt",
    "RenderError",
    "ConfigError",
    "BundleError",
]
