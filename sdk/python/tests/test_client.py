"""The binding against the real ``promptops serve``: what crates/cli/tests/sdk.rs checks
for the Rust SDK, through Python — typed prompts rendered as ``promptops render``
renders them, label moves followed, the budget, the last good copy (memory, snapshot),
typed exceptions, bundles offline, execution reports and the asyncio API."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from conftest import answer_vars
from promptops import (
    BundleError,
    Client,
    ConfigError,
    NotFound,
    Prompt,
    PromptopsError,
    RenderError,
    ReportStats,
    Unauthorized,
    Unavailable,
)


def cli_render(registry) -> object:
    """What ``promptops render`` gives for the repo's support.answer with answer_vars()."""
    return registry.cli_json(
        [
            "render",
            "prompts/support/answer.yaml",
            "--var",
            "article=Refunds take 5 days.",
            "--var",
            "question=How long do refunds take?",
        ]
    )["rendered"]


def served(registry, id: str) -> dict:
    return registry.api(f"/v1/projects/demo/environments/prod/prompts/{id}", registry.key)


def test_text_and_chat_prompts_render_like_the_cli(shared_registry):
    reg = shared_registry
    client = Client(reg.url, api_key=reg.key)
    chat = client.get("support.answer", env="prod")
    assert (chat.id, chat.version, chat.environment, chat.kind) == (
        "support.answer",
        "1.0.0",
        "prod",
        "chat",
    )
    assert chat.content_hash == served(reg, "support.answer")["content_hash"]
    assert chat.model["name"] == "gpt-4o-mini"
    assert chat.variables["company"]["default"] == "Acme"
    messages = chat.render(answer_vars())
    assert messages == cli_render(reg), "one renderer"
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "support.answer@1.0.0" in repr(chat)

    text = client.get("support.greeting")  # env defaults to prod
    assert text.kind == "text"
    assert text.content_hash == served(reg, "support.greeting")["content_hash"]
    assert text.render({"name": "Ada"}) == "Hello Ada, welcome to Acme!"
    with pytest.raises(RenderError, match="question"):
        chat.render({"article": "x"})


def test_typed_errors(shared_registry):
    reg = shared_registry
    client = Client(reg.url, api_key=reg.key)
    with pytest.raises(NotFound) as nf:
        client.get("support.nothing", env="prod")
    assert (nf.value.id, nf.value.environment) == ("support.nothing", "prod")
    assert isinstance(nf.value, LookupError) and isinstance(nf.value, PromptopsError)

    stranger = Client(reg.url, api_key="po_notarealkey_0000000000000000000000", project="demo")
    with pytest.raises(Unauthorized):
        stranger.get("support.answer")

    with pytest.raises(ConfigError, match="http://"):
        Client("localhost:1")
    with pytest.raises(ConfigError, match="timeout"):
        Client(reg.url, timeout=-1)
    with pytest.raises(BundleError):
        Client.from_bundle(reg.tmp / "no-such.bundle")


def test_a_label_move_reaches_the_client_through_the_watch_stream(registry):
    client = Client(registry.url, api_key=registry.key)
    assert client.get("support.answer").version == "1.0.0"
    registry.promote("support.answer", "1.1.0")
    deadline = time.monotonic() + 10
    while True:
        prompt = client.get("support.answer")
        if prompt.version == "1.1.0":
            break
        assert time.monotonic() < deadline, "the move reached the client"
        time.sleep(0.01)
    assert "Answer briefly" in str(prompt.render(answer_vars()))


def test_revalidation_alone_picks_up_a_move(registry):
    # No watch stream: the periodic ETag revalidation is what finds the move.
    client = Client(registry.url, api_key=registry.key, watch=False, refresh_every=0.2)
    assert client.get("support.answer").version == "1.0.0"
    registry.promote("support.answer", "1.1.0")
    deadline = time.monotonic() + 10
    while client.get("support.answer").version != "1.1.0":
        assert time.monotonic() < deadline, "revalidation found the move"
        time.sleep(0.05)


def silent_listener() -> socket.socket:
    """A registry that accepts connections and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def test_the_last_good_copy_when_the_registry_is_gone(registry, tmp_path):
    snapshots = tmp_path / "snapshots"
    warm = Client(registry.url, api_key=registry.key, snapshot_dir=snapshots)
    read = warm.get("support.answer")
    url = registry.url
    registry.stop()

    # In memory: still answered.
    assert warm.get("support.answer").version == read.version

    # A new process (a new client): the snapshot on disk answers.
    cold = Client(url, api_key=registry.key, project="demo", snapshot_dir=snapshots)
    p = cold.get("support.answer")
    assert (p.version, p.content_hash) == (read.version, read.content_hash)
    assert p.render(answer_vars()) == read.render(answer_vars())

    # Nothing held: a typed error naming the budget, not a hang.
    bare = Client(url, api_key=registry.key, project="demo")
    with pytest.raises(Unavailable, match="500ms") as un:
        bare.get("support.answer")
    assert isinstance(un.value, ConnectionError)

    # A registry that never answers costs the budget, then the last good copy answers.
    silent = silent_listener()
    silent_url = "http://%s:%d" % silent.getsockname()
    try:
        slow = Client(silent_url, api_key=registry.key, project="demo", timeout=0.2,
                      snapshot_dir=snapshots)
        start = time.monotonic()
        assert slow.get("support.answer").version == read.version
        assert time.monotonic() - start < 2, "waited for a silent registry"

        none = Client(silent_url, api_key=registry.key, project="demo", timeout=0.2)
        start = time.monotonic()
        with pytest.raises(Unavailable):
            none.get("support.answer")
        assert time.monotonic() - start < 2
    finally:
        silent.close()


def test_a_blocking_get_lets_other_threads_run_while_it_waits(shared_registry):
    # The GIL is released while the registry is waited for: the main thread keeps
    # running while another waits out the budget of a registry that never answers.
    import threading

    silent = silent_listener()
    try:
        url = "http://%s:%d" % silent.getsockname()
        slow = Client(url, api_key=shared_registry.key, project="demo", timeout=0.5)
        outcome = []

        def worker():
            try:
                slow.get("support.answer")
            except Unavailable as e:
                outcome.append(e)

        thread = threading.Thread(target=worker)
        start = last = time.monotonic()
        thread.start()
        widest = 0.0
        while thread.is_alive():
            x = 0
            for i in range(1000):  # pure Python work: needs the GIL
                x += i
            now = time.monotonic()
            widest = max(widest, now - last)
            last = now
        thread.join()
        assert outcome, "the get raised Unavailable"
        assert time.monotonic() - start >= 0.4
        assert widest < 0.2, f"the main thread was held for {widest:.2f}s"
    finally:
        silent.close()


def make_bundle(registry, path) -> None:
    out = registry.cli(["bundle", "--env", "prod", "-o", str(path)])
    assert "prompt(s)" in out, out


def test_a_bundle_serves_offline_and_a_changed_byte_is_refused(registry, tmp_path):
    bundle = tmp_path / "prod.bundle"
    make_bundle(registry, bundle)
    expected = cli_render(registry)
    registry.stop()  # offline from here on

    offline = Client.from_bundle(bundle)
    p = offline.get("support.answer", env="prod")
    assert p.version == "1.0.0"
    assert p.render(answer_vars()) == expected
    assert offline.get("support.greeting").render(name="Ada") == "Hello Ada, welcome to Acme!"
    with pytest.raises(NotFound):
        offline.get("support.answer", env="staging")
    assert "bundle" in repr(offline)

    data = bundle.read_bytes()
    for at in (0, 20, len(data) // 2, len(data) - 2):
        damaged = bytearray(data)
        damaged[at] ^= 0x01
        file = tmp_path / f"damaged-{at}.bundle"
        file.write_bytes(bytes(damaged))
        with pytest.raises(BundleError) as be:
            Client.from_bundle(file)
        assert be.value.path == str(file)

    # As the fallback of an online client whose registry is gone.
    client = Client(registry.url, api_key=registry.key, project="demo", bundle=bundle)
    assert client.get("support.answer").version == "1.0.0"


def test_executions_are_reported_in_batches_without_blocking(registry):
    editor = registry.cli(["key", "create", "--name", "reporter", "--role", "editor"]).strip()
    client = Client(
        registry.url,
        api_key=registry.key,
        report_key=editor,
        report_queue=50,
        report_batch=20,
        report_every=0.05,
    )
    prompt = client.get("support.answer")
    queued = 0
    slowest = 0.0
    for i in range(80):
        start = time.perf_counter()
        queued += client.report(
            prompt,
            model="gpt-4o-mini",
            input_tokens=100,
            output_tokens=10,
            latency_ms=100 + i,
            request_id=f"req-{i}",
        )
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 0.05, f"a report waited {slowest:.3f}s"
    stats = client.flush(timeout=20)
    assert isinstance(stats, ReportStats)
    assert stats.queued == 0, stats
    assert stats.sent == queued, stats
    assert stats.sent + stats.dropped == 80, stats
    assert stats.dropped > 0, f"the queue is smaller than the burst: {stats}"
    assert stats.failed == 0
    assert client.report_stats() == stats

    # The registry has them, as sent: read back from its events API.
    deadline = time.monotonic() + 10
    while True:
        page = registry.api(
            "/v1/projects/demo/events?prompt_id=support.answer&limit=1000", editor
        )
        if len(page["events"]) == queued or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    events = page["events"]
    assert len(events) == queued
    first = next(e for e in events if e.get("request_id") == "req-0")
    assert first["version"] == "1.0.0"
    assert first["environment"] == "prod"
    assert first["content_hash"] == prompt.content_hash
    assert (first["input_tokens"], first["output_tokens"], first["latency_ms"]) == (100, 10, 100)

    # A failure is reported as one.
    assert client.report(prompt, ok=False, error="model timed out", request_id="req-err")
    client.flush(timeout=20)
    deadline = time.monotonic() + 10
    while True:
        page = registry.api("/v1/projects/demo/events?prompt_id=support.answer&limit=1000", editor)
        failed = [e for e in page["events"] if e.get("request_id") == "req-err"]
        if failed or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert failed and failed[0]["outcome"] == "error", page["events"][-1]

    # A key that may not report: counted as failed, not retried forever.
    viewer_only = Client(registry.url, api_key=registry.key)
    assert viewer_only.report(viewer_only.get("support.answer"))
    stats = viewer_only.flush(timeout=20)
    assert (stats.sent, stats.failed, stats.queued) == (0, 1, 0), stats

    # Without a registry (a bundle), a report is dropped and counted, never raised.
    bundle = registry.tmp / "report.bundle"
    make_bundle(registry, bundle)
    offline = Client.from_bundle(bundle)
    assert offline.report(offline.get("support.answer"), latency_ms=1.5) is False
    assert offline.report_stats().dropped == 1

    # Arguments the event cannot carry are refused at once.
    local = Prompt.from_source((registry.repo / "prompts/support/greeting.yaml").read_text())
    with pytest.raises(ValueError, match="latency_ms"):
        client.report(local, latency_ms=-1)
    with pytest.raises(ValueError, match="input"):
        client.report(local, input=object())


def test_the_asyncio_api_never_blocks_the_event_loop(registry, tmp_path):
    async def main():
        client = Client(registry.url, api_key=registry.key)
        prompt = await client.get_async("support.answer", "prod")
        assert prompt.version == "1.0.0"
        many = await asyncio.gather(*(client.get_async("support.greeting") for _ in range(20)))
        assert {p.version for p in many} == {"1.0.0"}
        with pytest.raises(NotFound):
            await client.get_async("support.nothing")
        stats = await client.flush_async(timeout=5)
        assert stats.queued == 0

        # A registry that never answers: the loop keeps running while get_async waits.
        silent = silent_listener()
        try:
            url = "http://%s:%d" % silent.getsockname()
            slow = Client(url, api_key=registry.key, project="demo", timeout=0.5)
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            tick_task = asyncio.ensure_future(ticker())
            with pytest.raises(Unavailable):
                await slow.get_async("support.answer")
            tick_task.cancel()
            assert ticks >= 10, f"the event loop ran only {ticks} times in 0.5 s"
        finally:
            silent.close()

    asyncio.run(main())
