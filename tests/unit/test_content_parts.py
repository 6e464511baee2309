"""Multimodal content (lists of parts): templates in text parts and image URLs, shapes,
the text the echo model answers with, readable diffs and what traces store."""

from __future__ import annotations

import pytest

from harness import content_parts, templating
from harness.llm.echo import echo_output

IMAGE = {"type": "image_url", "image_url": {"url": "https://img.example/{{ image_id }}.png",
                                            "detail": "high"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}
CHAT = [{"role": "system", "content": "You describe {{ kind }}."},
        {"role": "user", "content": [{"type": "text", "text": "Describe {{ subject }}."},
                                     IMAGE, AUDIO,
                                     {"type": "file", "file": {"file_id": "file-1"}}]}]


def test_variables_come_from_text_parts_and_image_urls_only():
    assert templating.variables(CHAT) == ["image_id", "kind", "subject"]
    templating.validate(CHAT)


def test_render_fills_text_parts_and_image_urls_and_keeps_the_rest():
    out = templating.render(CHAT, {"kind": "animals", "subject": "the cat",
                                   "image_id": "42"})
    assert out[0] == {"role": "system", "content": "You describe animals."}
    parts = out[1]["content"]
    assert parts[0] == {"type": "text", "text": "Describe the cat."}
    assert parts[1] == {"type": "image_url", "image_url": {
        "url": "https://img.example/42.png", "detail": "high"}}
    assert parts[2:] == CHAT[1]["content"][2:]
    assert CHAT[1]["content"][1]["image_url"]["url"].endswith("{{ image_id }}.png")  # copied
    with pytest.raises(templating.MissingVariablesError) as exc:
        templating.render(CHAT, {"kind": "x", "subject": "y"})
    assert exc.value.missing == ["image_id"]


def test_an_image_url_that_is_one_variable_takes_the_value_as_is():
    big = "data:image/png;base64," + "A" * 3_000_000  # more than a render may produce
    content = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "{{ image }}"}}]}]
    out = templating.render(content, {"image": big})
    assert out[0]["content"][0]["image_url"]["url"] == big
    with pytest.raises(templating.RenderBudgetExceeded):  # a template still has its budget
        templating.render([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "x{{ image }}"}}]}], {"image": big})


def test_a_bad_template_in_a_part_is_named_by_its_place():
    bad = [{"role": "user", "content": [{"type": "text", "text": "ok"},
                                        {"type": "image_url",
                                         "image_url": {"url": "https://x/{{ id"}}]}]
    with pytest.raises(templating.TemplateSyntaxError) as exc:
        templating.validate(bad)
    assert exc.value.where.startswith("messages[0].content[1].image_url.url")


@pytest.mark.parametrize(("content", "where"), [
    ([{"type": "video", "video": {}}], "messages[0].content[0].type"),
    ([{"type": "text"}], "messages[0].content[0].text"),
    ([{"type": "text", "text": 3}], "messages[0].content[0].text"),
    ([{"type": "text", "text": "a", "image_url": {"url": "u"}}],
     "messages[0].content[0].image_url"),
    ([{"type": "image_url", "image_url": {"url": ""}}], "messages[0].content[0].image_url.url"),
    ([{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}],
     "messages[0].content[0].image_url.detail"),
    ([{"type": "input_audio", "input_audio": {"data": "AAAA"}}],
     "messages[0].content[0].input_audio.format"),
    ([{"type": "file", "file": {"filename": "a.pdf"}}], "messages[0].content[0].file"),
    (["text"], "messages[0].content[0]"),
    ([], "messages[0].content"),
])
def test_malformed_parts_are_refused_naming_the_part(content, where):
    with pytest.raises(content_parts.PartError) as exc:
        templating.validate([{"role": "user", "content": content}])
    assert exc.value.where == where


def test_media_parts_belong_in_user_messages():
    with pytest.raises(content_parts.PartError) as exc:
        templating.validate([{"role": "system", "content": [IMAGE]}])
    assert exc.value.where == "messages[0].content[0]" and "user message" in str(exc.value)
    templating.validate([{"role": "assistant", "content": [{"type": "text", "text": "a"}]}])


def test_echo_answers_with_the_text_parts():
    one = [{"role": "user", "content": [{"type": "text", "text": "Describe it."}, IMAGE,
                                        {"type": "text", "text": "One word."}]}]
    assert echo_output(one) == "Describe it.\nOne word."
    two = [{"role": "system", "content": "S"}, *one]
    assert echo_output(two) == (
        '[{"role": "system", "content": "S"}, '
        '{"role": "user", "content": "Describe it.\\nOne word."}]')


def test_diff_text_shows_each_part_and_inline_data_by_size_and_hash():
    data = "data:image/png;base64," + "B" * 5000
    content = [{"role": "user", "content": [
        {"type": "text", "text": "Describe {{ subject }}."}, IMAGE,
        {"type": "image_url", "image_url": {"url": data}}, AUDIO,
        {"type": "file", "file": {"file_id": "file-1", "filename": "a.pdf"}}]}]
    text = templating.as_text(content)
    lines = text.splitlines()
    assert lines[:3] == ["[user]", "Describe {{ subject }}.",
                         "[image detail=high] https://img.example/{{ image_id }}.png"]
    assert lines[3].startswith("[image] data:image/png;base64,<5000 characters omitted, "
                               "sha256 ")
    assert lines[4].startswith("[audio wav] <16 characters omitted, sha256 ")
    assert lines[5] == "[file file_id=file-1 filename=a.pdf]"
    other = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data[:-1] + "C"}}]}]
    assert templating.as_text(other).splitlines()[1] != lines[3]  # same size, other hash


def test_stored_form_omits_inline_data_and_keeps_urls():
    data = "data:image/jpeg;base64," + "Z" * 1000
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "hi"},
        {"type": "image_url", "image_url": {"url": data, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://img.example/1.png"}}, AUDIO,
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER",
                                  "filename": "a.pdf"}}]}]
    stored = content_parts.omit_binary(messages)
    parts = stored[0]["content"]
    assert parts[0] == {"type": "text", "text": "hi"}
    assert parts[1]["image_url"]["detail"] == "low"
    assert parts[1]["image_url"]["url"].startswith(
        "data:image/jpeg;base64,<1000 characters omitted, sha256 ")
    assert parts[2]["image_url"]["url"] == "https://img.example/1.png"
    assert parts[3]["input_audio"]["data"].startswith("<16 characters omitted")
    assert parts[4]["file"]["file_data"].startswith("data:application/pdf;base64,<5 char")
    assert messages[0]["content"][1]["image_url"]["url"] == data  # the input is untouched
    assert content_parts.omit_data_urls({"img": data, "n": 1, "l": ["x"]}) == {
        "img": parts[1]["image_url"]["url"], "n": 1, "l": ["x"]}


def test_content_bytes_counts_inline_data():
    small = [{"role": "user", "content": [{"type": "text", "text": "abc"}]}]
    big = [{"role": "user", "content": [{"type": "text", "text": "abc"},
                                        {"type": "image_url",
                                         "image_url": {"url": "data:," + "x" * 100}}]}]
    assert templating.content_bytes(small) == len("text") + 3
    assert templating.content_bytes(big) - templating.content_bytes(small) > 100


def test_studio_editor_keeps_a_list_of_parts_and_shows_it_readably():
    from services.studio.views import content

    rows = content.message_rows(CHAT)
    assert rows[0] == CHAT[0] and rows[1]["content"].startswith('[{"type": "text"')
    assert content.content_from_editor("chat", "", rows) == CHAT  # not its repr as text
    shown = content.as_text(CHAT)
    assert "[image detail=high] https://img.example/{{ image_id }}.png" in shown
    assert content.variables_in(CHAT) == ["kind", "subject", "image_id"]
    text = [{"role": "user", "content": "[1, 2]"}]  # a JSON list that is not parts: text
    assert content.content_from_editor("chat", "", content.message_rows(text)) == text


def test_audio_and_file_data_can_come_from_a_variable():
    content = [{"role": "user", "content": [
        {"type": "text", "text": "Transcribe."},
        {"type": "input_audio", "input_audio": {"data": "{{ audio }}", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "{{ pdf }}", "filename": "{{ name }}.pdf"}}]}]
    assert templating.variables(content) == ["audio", "pdf"]  # filename is no template
    audio = "SUQz" * 400_000  # more than a render may produce: a value, not template output
    out = templating.render(content, {"audio": audio, "pdf": "data:application/pdf;base64,JV"})
    assert out[0]["content"][1]["input_audio"] == {"data": audio, "format": "mp3"}
    assert out[0]["content"][2]["file"] == {"file_data": "data:application/pdf;base64,JV",
                                            "filename": "{{ name }}.pdf"}
    assert content_parts.omit_data_urls({"audio": audio, "short": "SUQz"}) == {
        "audio": content_parts.omit_binary_part(out[0]["content"][1])["input_audio"]["data"],
        "short": "SUQz"}


def test_the_sdk_renders_a_version_with_parts():
    from harness.client.models import Resolved

    resolved = Resolved(model="echo", content=CHAT)
    assert resolved.variables == ["image_id", "kind", "subject"]
    messages = resolved.render(kind="birds", subject="an owl", image_id="8")
    assert messages[1]["content"][0] == {"type": "text", "text": "Describe an owl."}
    assert messages[1]["content"][1]["image_url"]["url"] == "https://img.example/8.png"


def test_prompt_files_with_parts_load_and_a_bad_part_is_named(tmp_path):
    import yaml

    from harness.prompt_files import PromptFileError, load_file

    path = tmp_path / "vision.yaml"
    path.write_text(yaml.safe_dump({"name": "vision", "content": CHAT}))
    assert load_file(path)["content"] == CHAT
    bad = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": ""}}]}]
    path.write_text(yaml.safe_dump({"name": "vision", "content": bad}))
    with pytest.raises(PromptFileError, match=r"messages\[0\]\.content\[0\]\.image_url\.url"):
        load_file(path)
