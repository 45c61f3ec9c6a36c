"""The shipped CLIP tokenizer must produce the token ids OpenAI's CLIP tokenizer produces."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from open_clip.tokenizer import SimpleTokenizer
from transformers import CLIPTokenizer

from core.errors import ModelFileError
from core.tokenizer import BANG_PAD, clean_prompt_text, clip_tokenizer_dir, load_clip_tokenizer

BOS, EOS = 49406, 49407

PROMPTS = [
    "((masterpiece)), (best quality:1.2), [bad hands], <lora:add_detail:0.6>, BREAK 1girl, solo",
    "a photo of an astronaut riding a horse on Mars",
    "MiXeD CaSe Prompt With CAPS and numbers 1024x768",
    "一个女孩在樱花树下，水彩画",
    "桜の木の下の少女、水彩画風、高品質",
    "a cat 🐱 wearing a hat 🎩✨",
    "ＡＢＣ！ full-width ｔｅｘｔ，ｈｅｌｌｏ",
    "“curly quotes” and ‘single ones’ don’t matter",
    "salt &amp; pepper &lt;3 &amp;amp; double-escaped",
    "  lots   of\t\twhitespace \n\n everywhere   ",
    "café naïve résumé Ångström",
    "ﬁne ligatures ﬂow",
    "emphasis:1.3 \\(escaped\\) [[nested]] {braces} a|b",
    "wow!!! amazing! <|endoftext|> typed by hand",
    "",
]

# ftfy folds full-width forms, curly quotes and entities; transformers' CLIPTokenizer does not.
NEEDS_CLEANING = ["ＡＢＣ！ full-width", "“curly quotes”", "salt &amp; pepper", "ﬁne ligatures"]


@pytest.fixture(scope="module")
def reference() -> SimpleTokenizer:
    return SimpleTokenizer()  # open_clip's copy of OpenAI's tokenizer: the independent implementation


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer()


@pytest.fixture(scope="module")
def bang_tokenizer():
    return load_clip_tokenizer(pad_token=BANG_PAD)


def long_prompt() -> str:
    return ", ".join(f"detail number {index}" for index in range(60))


@pytest.mark.parametrize("prompt", PROMPTS)
def test_token_ids_equal_openai_clip(tokenizer, reference, prompt):
    assert tokenizer.encode(prompt, add_special_tokens=False) == reference.encode(prompt)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_tokenize_and_call_clean_the_same_way(tokenizer, reference, prompt):
    tokens = tokenizer.tokenize(prompt)
    assert tokenizer.convert_tokens_to_ids(tokens) == reference.encode(prompt)
    assert tokenizer(prompt).input_ids == [BOS, *reference.encode(prompt), EOS]


def test_batches_are_cleaned_item_by_item(tokenizer, reference):
    batch = tokenizer(PROMPTS[:8]).input_ids
    assert batch == [[BOS, *reference.encode(prompt), EOS] for prompt in PROMPTS[:8]]


@pytest.mark.parametrize("prompt", [*PROMPTS[:9], long_prompt()])
def test_pipeline_style_call_matches_openai_clip(tokenizer, bang_tokenizer, reference, prompt):
    # How diffusers' StableDiffusion(XL)Pipeline.encode_prompt calls the tokenizer.
    expected = reference(prompt)[0].tolist()  # open_clip pads with 0, i.e. "!"
    kwargs = dict(padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    ids = tokenizer(prompt, **kwargs).input_ids[0].tolist()
    bang_ids = bang_tokenizer(prompt, **kwargs).input_ids[0].tolist()

    assert len(ids) == 77 and ids[0] == BOS
    assert bang_ids == expected
    first_eos = expected.index(EOS)
    assert ids[: first_eos + 1] == expected[: first_eos + 1]
    assert ids[first_eos + 1 :] == [EOS] * (76 - first_eos)


def test_long_prompt_is_cut_to_77_ending_in_eos(tokenizer, reference):
    ids = tokenizer(long_prompt(), padding="max_length", max_length=77, truncation=True).input_ids
    assert len(reference.encode(long_prompt())) > 75
    assert len(ids) == 77 and ids[-1] == EOS
    assert ids[:76] == reference(long_prompt())[0].tolist()[:76]


def test_pad_tokens_and_length(tokenizer, bang_tokenizer):
    assert tokenizer.model_max_length == 77 and bang_tokenizer.model_max_length == 77
    assert tokenizer.pad_token_id == EOS
    assert bang_tokenizer.pad_token_id == 0
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id) == (BOS, EOS)
    assert len(tokenizer) == 49408


def test_padding_uses_the_variant_pad_token(tokenizer, bang_tokenizer):
    short = dict(padding="max_length", max_length=8)
    assert tokenizer("a cat", **short).input_ids == [BOS, 320, 2368, EOS, EOS, EOS, EOS, EOS]
    assert bang_tokenizer("a cat", **short).input_ids == [BOS, 320, 2368, EOS, 0, 0, 0, 0]


def test_exclamation_mark_in_a_prompt_is_not_the_pad_token(bang_tokenizer, reference):
    # SD2.x / SDXL tokenizer_2 pad with "!"; a "!" the user types must still encode as text.
    assert bang_tokenizer.encode("wow!", add_special_tokens=False) == reference.encode("wow!")
    assert 0 not in bang_tokenizer.encode("wow!", add_special_tokens=False)


@pytest.mark.parametrize("prompt", NEEDS_CLEANING)
def test_cleaning_is_what_makes_ids_match(tokenizer, reference, prompt):
    plain = CLIPTokenizer.from_pretrained(str(clip_tokenizer_dir()), local_files_only=True)
    assert plain.encode(prompt, add_special_tokens=False) != reference.encode(prompt)
    assert tokenizer.encode(prompt, add_special_tokens=False) == reference.encode(prompt)


def test_clean_prompt_text():
    assert clean_prompt_text("  ＡＢＣ！  “Hi”\n\n&amp;amp;  There ") == 'abc! "hi" & there'


def test_decode_is_unchanged(tokenizer):
    ids = tokenizer("A Photo of a Cat").input_ids
    assert tokenizer.batch_decode([ids], skip_special_tokens=True) == ["a photo of a cat"]


def test_missing_files_raise_an_actionable_error(tmp_path):
    with pytest.raises(ModelFileError, match="vocab.json"):
        load_clip_tokenizer(folder=tmp_path)


def test_shipped_files_match_the_generator():
    # packaging/ is not a package (and its name is taken by PyPI's `packaging`): load the script by path.
    script = Path(__file__).resolve().parent.parent / "packaging" / "make_tokenizer_files.py"
    spec = importlib.util.spec_from_file_location("make_tokenizer_files", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0
