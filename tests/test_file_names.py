"""Image file names from a pattern: A1111's tokens, names every file system accepts, numbers never reused."""

from __future__ import annotations

import datetime
from pathlib import Path

from core.file_names import NameFields, pattern_problem, render_stem
from core.images import next_image_path

FIELDS = NameFields(618633303, "dreamshaper_8", 512, 768, "DPM++ 2M", 25, 7.0,
                    "masterpiece, (a lighthouse:1.2) at dusk <lora:film grain:0.6>", datetime.date(2024, 5, 17))


def test_every_token():
    pattern = "[number]-[seed]-[model_name]-[width]x[height]-[sampler]-[steps]-[cfg]-[date]-[prompt_words]"
    assert render_stem(pattern, 12, FIELDS) == \
        "00012-618633303-dreamshaper_8-512x768-DPM++ 2M-25-7.0-2024-05-17-masterpiece a lighthouse 1 2 at dusk"


def test_tokens_in_any_case_and_unknown_ones_kept_as_written():
    assert render_stem("[SEED]-[Steps]-[colour]", 1, FIELDS) == "618633303-25-[colour]"
    assert pattern_problem("[number]-[colour]") is not None and pattern_problem("[number]-[Seed]") is None


def test_prompt_words_are_the_first_eight_and_an_empty_prompt_says_so():
    fields = NameFields(1, prompt="one two three four five six seven eight nine ten")
    assert render_stem("[prompt_words]", 0, fields) == "one two three four five six seven eight"
    assert render_stem("[prompt_words]", 0, NameFields(1, prompt="(( ))")) == "empty"


def test_names_are_safe_on_every_file_system():
    fields = NameFields(5, model_name="../../etc/passwd", sampler='Euler a:"*?|<>#\\', prompt="con")
    stem = render_stem("[model_name]/[sampler]", 0, fields)
    assert stem == "etcpasswdEuler a"
    assert render_stem("[model_name]", 0, NameFields(5, model_name="..hidden")) == "hidden"
    assert render_stem("[prompt_words]", 0, NameFields(5, prompt="con")) == "_con"
    assert render_stem("[model_name]", 0, NameFields(5, model_name="LPT1.v2")) == "_LPT1.v2"
    assert render_stem("[model_name]", 0, NameFields(5, model_name="LPT1 v2")) == "LPT1 v2"
    assert render_stem("[model_name]. ", 0, NameFields(5, model_name="x")) == "x"


def test_long_names_are_cut_in_the_text_not_the_number():
    fields = NameFields(7, model_name="m" * 100, prompt=" ".join(["wordy"] * 8) + "x" * 300)
    stem = render_stem("[prompt_words]-[model_name]-[number]", 3, fields)
    assert len(stem) == 120 and stem.endswith("-00003") and stem.startswith("wordy wordy")
    accented = render_stem("[prompt_words]-[number]", 3, NameFields(7, prompt="猫" * 200))
    assert len(accented.encode("utf-8")) <= 200 and accented.endswith("-00003")


def test_numbering_continues_with_any_pattern(tmp_path: Path):
    for name in ("00004-1.png", "fox-00009-a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert next_image_path(tmp_path, 5).name == "00005-5.png"
    assert next_image_path(tmp_path, 5, "fox-[number]-[seed]", NameFields(5)).name == "fox-00010-5.png"


def test_a_pattern_without_a_number_never_overwrites(tmp_path: Path):
    first = next_image_path(tmp_path, 5, "[seed]", NameFields(5))
    first.write_bytes(b"")
    second = next_image_path(tmp_path, 5, "[seed]", NameFields(5))
    assert (first.name, second.name) == ("5.png", "5-2.png")
