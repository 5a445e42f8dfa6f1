"""The real Langfuse Python SDK (5.x) against a real `promptops serve`: an application
switches by changing its base URL and keys, and gets governed prompts whose compile()
gives what `promptops render` gives."""

from __future__ import annotations

import time

import httpx
import pytest
from langfuse import Langfuse
from langfuse.api import NotFoundError
from langfuse.api.core.api_error import ApiError

from conftest import FIXTURES, Server, render

V1 = FIXTURES / "v1" / "prompts" / "support"
V2 = FIXTURES / "v2" / "prompts" / "support"
ANSWER_VARS = {"name": "Ann", "topic": "billing", "question": "Why was I charged twice?"}
CHAT_VARS = {"company": "Acme", "topic": "billing", "question": "Can I get a refund?"}


def client(server: Server, keys: tuple[str, str]) -> Langfuse:
    public, secret = keys
    # Only prompt management is served: tracing would export spans to Langfuse's OTel
    # endpoint, which promptops does not have.
    return Langfuse(public_key=public, secret_key=secret, base_url=server.url, tracing_enabled=False)


def test_text_prompt_by_default_label_is_production_and_compiles_like_render(registry: Server, project: str):
    lf = client(registry, registry.seed(project))
    prompt = lf.get_prompt("support.answer")
    assert prompt.version == 1
    assert prompt.labels == ["staging", "production"]
    assert prompt.tags == ["support", "langfuse"]
    assert prompt.config == {"model": "gpt-4o-mini", "provider": "openai", "temperature": 0.2}
    assert prompt.commit_message == "First version."
    assert prompt.variables == ["name", "topic", "question"]
    assert prompt.prompt == "Hello {{name}}!\nAnswer this question about {{topic}}:\n{{question}}\n"
    assert prompt.compile(**ANSWER_VARS) == render(V1 / "answer.yaml", ANSWER_VARS)
    assert not prompt.is_fallback


def test_text_prompt_by_label_and_by_version(registry: Server, project: str):
    lf = client(registry, registry.seed(project))
    dev = lf.get_prompt("support.answer", label="dev")
    assert (dev.version, dev.labels) == (2, ["dev", "latest"])
    assert dev.compile(**ANSWER_VARS) == render(V2 / "answer.yaml", ANSWER_VARS)
    assert lf.get_prompt("support.answer", label="latest").version == 2
    first = lf.get_prompt("support.answer", version=1)
    assert first.compile(**ANSWER_VARS) == render(V1 / "answer.yaml", ANSWER_VARS)
    # A folder-style name is the same prompt, answered under the name asked for.
    folder = lf.get_prompt("support/answer", version=2)
    assert (folder.name, folder.version) == ("support/answer", 2)


def test_chat_prompt_compiles_to_the_rendered_messages(registry: Server, project: str):
    lf = client(registry, registry.seed(project))
    chat = lf.get_prompt("support.chat", type="chat")
    assert chat.version == 1
    assert chat.config == {"model": "claude-3-5-sonnet", "provider": "anthropic"}
    assert chat.tags == []
    assert chat.compile(**CHAT_VARS) == render(V1 / "chat.yaml", CHAT_VARS)
    by_version = lf.get_prompt("support.chat", type="chat", version=1)
    assert by_version.compile(**CHAT_VARS) == chat.compile(**CHAT_VARS)


def test_an_unknown_prompt_is_a_404_and_the_fallback_serves(registry: Server, project: str):
    lf = client(registry, registry.seed(project))
    with pytest.raises(NotFoundError) as raised:
        lf.get_prompt("support.nothing", max_retries=0)
    assert raised.value.status_code == 404
    assert raised.value.body["error"] == "LangfuseNotFoundError"
    assert "`support.nothing` not found" in raised.value.body["message"]
    with pytest.raises(NotFoundError):
        lf.get_prompt("support.answer", version=9, max_retries=0)
    fallback = lf.get_prompt("support.nothing", fallback="Hi {{name}}", max_retries=0)
    assert fallback.is_fallback
    assert fallback.compile(name="Ann") == "Hi Ann"


def test_a_template_langfuse_cannot_express_is_refused_and_the_fallback_serves(registry: Server, project: str):
    lf = client(registry, registry.seed(project))
    with pytest.raises(ApiError) as raised:
        lf.get_prompt("support.branchy", max_retries=0)
    assert raised.value.status_code == 422
    assert "`{% if %}` is a template tag" in raised.value.body["message"]
    fallback = lf.get_prompt("support.branchy", fallback="Hello {{name}}!", max_retries=0)
    assert fallback.is_fallback


def test_create_update_and_a_blocked_label_move(registry: Server, project: str):
    lf = client(registry, registry.seed(project))
    text = lf.create_prompt(
        name="sales/pitch",
        prompt="Sell {{product}} to {{who}}.",
        config={"model": "openai:gpt-4o", "temperature": 0.5},
        labels=["dev"],
        tags=["sales"],
        commit_message="first pitch",
    )
    assert (text.name, text.version, text.labels) == ("sales/pitch", 1, ["dev", "latest"])
    assert text.compile(product="tea", who="Ann") == "Sell tea to Ann."
    second = lf.create_prompt(name="sales/pitch", prompt="Offer {{product}} to {{who}}.")
    assert second.version == 2
    assert second.config["temperature"] == 0.5
    assert lf.get_prompt("sales/pitch", label="latest", cache_ttl_seconds=0).compile(product="tea", who="Ann") == "Offer tea to Ann."

    chat = lf.create_prompt(
        name="sales/chat",
        type="chat",
        prompt=[{"role": "system", "content": "You sell {{product}}."}, {"role": "user", "content": "{{question}}"}],
        config={"model": "openai:gpt-4o-mini"},
    )
    assert chat.compile(product="tea", question="How much?") == [
        {"role": "system", "content": "You sell tea."},
        {"role": "user", "content": "How much?"},
    ]

    # Moving labels: the environments' policies decide, as for `promptops promote`.
    moved = lf.update_prompt(name="sales/pitch", version=2, new_labels=["staging"])
    assert moved.labels == ["staging", "latest"]
    registry.call("PUT", f"/v1/projects/{project}/policies/prod", {"source": "approvals:\n  - count: 1\n"})
    with pytest.raises(ApiError) as raised:
        lf.update_prompt(name="sales/pitch", version=2, new_labels=["production"])
    assert raised.value.status_code == 409
    assert raised.value.body["error"] == "PromotionBlockedError"
    message = str(raised.value)  # what the application's log shows
    assert "cannot go to prod" in message and "waits for approval" in message
    assert raised.value.body["request"]["status"] == "open"
    requests = registry.call("GET", f"/v1/projects/{project}/requests?status=open")
    assert [(r["prompt_id"], r["version"], r["environment"]) for r in requests] == [("sales.pitch", "1.1.0", "prod")]
    with pytest.raises(NotFoundError):
        lf.get_prompt("sales/pitch", cache_ttl_seconds=0, max_retries=0)


def test_a_fresh_cached_copy_is_served_without_asking(registry: Server, project: str):
    lf = client(registry, registry.seed(project))
    assert lf.get_prompt("support.answer", cache_ttl_seconds=60).version == 1
    registry.promote(project, "support.answer", "prod", "1.1.0")
    assert lf.get_prompt("support.answer", cache_ttl_seconds=60).version == 1, "from the SDK's cache"
    assert lf.get_prompt("support.answer", cache_ttl_seconds=0).version == 2, "no cache: the registry's answer"


def test_an_expired_copy_is_served_while_the_sdk_refreshes_it(registry: Server, project: str):
    lf = client(registry, registry.seed(project))
    assert lf.get_prompt("support.answer", cache_ttl_seconds=1).version == 1
    registry.promote(project, "support.answer", "prod", "1.1.0")
    time.sleep(2.1)  # the SDK counts whole seconds
    assert lf.get_prompt("support.answer", cache_ttl_seconds=1).version == 1, "stale, refreshing in the background"
    deadline = time.monotonic() + 10
    while lf.get_prompt("support.answer", cache_ttl_seconds=1).version != 2:
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.1)


def test_with_the_registry_down_the_cached_copy_then_the_fallback_serve(fresh_registry: Server):
    keys = fresh_registry.seed("outage")
    lf = client(fresh_registry, keys)
    cached = lf.get_prompt("support.answer", cache_ttl_seconds=1)
    expected = cached.compile(**ANSWER_VARS)
    fresh_registry.stop()
    time.sleep(2.1)
    # Expired and the registry unreachable: the SDK keeps serving its copy.
    again = lf.get_prompt("support.answer", cache_ttl_seconds=1, max_retries=0, fetch_timeout_seconds=2)
    assert again.compile(**ANSWER_VARS) == expected
    assert not again.is_fallback
    # Never fetched: the fallback, or the connection error without one.
    fallback = lf.get_prompt("support.chat", type="chat", max_retries=0, fetch_timeout_seconds=2,
                             fallback=[{"role": "user", "content": "{{question}}"}])
    assert fallback.is_fallback
    assert fallback.compile(question="Hi?") == [{"role": "user", "content": "Hi?"}]
    with pytest.raises(httpx.TransportError):
        lf.get_prompt("support.chat", type="chat", max_retries=0, fetch_timeout_seconds=2)


def test_bad_keys_are_refused_with_a_message_the_sdk_shows(registry: Server, project: str):
    public, secret = registry.seed(project)
    other_public, _ = registry.key(project, role="viewer")
    lf = Langfuse(public_key=other_public, secret_key=secret, base_url=registry.url, tracing_enabled=False)
    with pytest.raises(ApiError) as raised:
        lf.get_prompt("support.answer", max_retries=0)
    assert raised.value.status_code == 401
    assert f"set the public key to `{public}`" in raised.value.body["message"]
    assert client(registry, (public, secret)).auth_check()
