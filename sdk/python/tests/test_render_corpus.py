"""One rendering truth: every case of sdk/fixtures/render.json rendered through the
binding, the same file crates/client/tests/render_corpus.rs runs through the Rust SDK.
``Prompt.from_source`` is ``promptops_client::sdk::Prompt::from_source``: the prompt as
the registry would serve it, checked against its hash, then the Rust renderer."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT
from promptops import InvalidPrompt, Prompt, PromptopsError, RenderError

CORPUS = json.loads((ROOT / "sdk" / "fixtures" / "render.json").read_text(encoding="utf-8"))
CASES = CORPUS["cases"]


def test_the_corpus_is_whole():
    assert len(CASES) >= 30, "the corpus lost cases"
    assert len({c["name"] for c in CASES}) == len(CASES), "case names are unique"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_renders_as_expected(case):
    prompt = Prompt.from_source(case["prompt"], "case.yaml")
    expect = case["expect"]
    if "error" in expect:
        with pytest.raises(RenderError) as raised:
            prompt.render(case["vars"])
        assert expect["error"] in str(raised.value)
        assert isinstance(raised.value, PromptopsError)
    elif "text" in expect:
        got = prompt.render(case["vars"])
        assert isinstance(got, str)
        assert got == expect["text"]
        assert prompt.kind == "text"
    else:
        got = prompt.render(case["vars"])
        assert got == expect["messages"]
        assert prompt.kind == "chat"


def test_keyword_variables_win_over_the_dict():
    prompt = Prompt.from_source(CASES[0]["prompt"])
    assert prompt.render({"name": "Ada"}, name="Grace") == "Hello Grace!"
    assert prompt.render(name="Grace") == "Hello Grace!"


def test_values_json_cannot_say_are_refused_with_their_name():
    prompt = Prompt.from_source(CASES[0]["prompt"])
    with pytest.raises(RenderError, match="`name`: a set cannot be passed"):
        prompt.render({"name": {1, 2}})
    with pytest.raises(RenderError, match="NaN"):
        prompt.render({"name": float("nan")})
    loop: list = []
    loop.append(loop)
    with pytest.raises(RenderError, match="nested more than"):
        prompt.render({"name": loop})
    with pytest.raises(RenderError, match="must be a dict"):
        prompt.render(["Ada"])  # type: ignore[arg-type]


def test_an_invalid_prompt_file_names_each_error_with_its_position():
    with pytest.raises(InvalidPrompt) as raised:
        Prompt.from_source("id: x\nversion: one\n", "prompts/x.yaml")
    message = str(raised.value)
    assert "prompts/x.yaml:2:" in message, message
    assert raised.value.id == "prompts/x.yaml"


def test_a_local_prompt_file_reads_as_validate_reads_it(tmp_path):
    folder = tmp_path / "prompts" / "corpus"
    folder.mkdir(parents=True)
    (folder / "case.yaml").write_text(CASES[0]["prompt"], encoding="utf-8")
    prompt = Prompt.from_file(folder / "case.yaml")
    assert (prompt.id, prompt.version, prompt.environment) == ("corpus.case", "1.0.0", "local")
    assert len(prompt.content_hash) == 64
    assert prompt.variables["name"]["type"] == "string"
    assert prompt.render(name="Ada") == "Hello Ada!"
    with pytest.raises(FileNotFoundError):
        Prompt.from_file(tmp_path / "missing.yaml")
