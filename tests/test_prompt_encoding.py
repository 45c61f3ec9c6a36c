"""Prompts are encoded as A1111 encodes them: 75-token chunks, BREAK, emphasis, padding, prompt editing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.prompts.encoding import encode_prompts, encode_schedules, encode_texts, tokenize_chunks
from tests.models import Recorder, make_engine, tiny_request

A, B, FOX, COMMA = 320, 321, 3240, 267  # ids of "a", "b", "fox", "," in the CLIP vocabulary
BANG = 0


def words(word: str, count: int) -> str:
    return " ".join([word] * count)


def pixels(image) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def engines(tiny_models, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One engine per family with its tiny model loaded by a 1-step generation."""
    loaded = {}
    for name in ("sd1", "sd2", "sdxl"):
        folder = tmp_path_factory.mktemp(f"encoding-{name}")
        engine = make_engine(folder / "home")
        engine.generate(tiny_request(tiny_models[name], steps=1), Recorder(), output_dir=folder)
        loaded[name] = engine
    return loaded


@pytest.fixture(scope="module")
def pipes(engines):  # type: ignore[no-untyped-def]
    return {name: engine.loaded_model.base for name, engine in engines.items()}


def embeds(pipe, text: str, family: str = "sd1") -> torch.Tensor:  # type: ignore[no-untyped-def]
    return encode_texts(pipe, family, [text])[0].embeds


def test_a_150_token_prompt_is_two_full_chunks_and_154_positions(pipes):
    tokenizer = pipes["sd1"].tokenizer
    chunks = tokenize_chunks(tokenizer, words("fox", 150))
    expected = (tokenizer.bos_token_id, *[FOX] * 75, tokenizer.eos_token_id)
    assert [chunk.tokens for chunk in chunks] == [expected, expected]
    assert all(chunk.multipliers == (1.0,) * 77 for chunk in chunks)

    embeddings = encode_prompts(pipes["sd1"], "sd1", words("fox", 150), "blurry")
    width = pipes["sd1"].text_encoder.config.hidden_size
    assert embeddings.prompt_embeds.shape == (1, 154, width)
    assert embeddings.pooled is None and embeddings.negative_pooled is None


def test_the_76th_token_starts_a_second_chunk(pipes):
    tokenizer = pipes["sd1"].tokenizer
    first, second = tokenize_chunks(tokenizer, words("fox", 76))
    assert first.tokens[75:] == (FOX, tokenizer.eos_token_id)
    assert second.tokens[:3] == (tokenizer.bos_token_id, FOX, tokenizer.eos_token_id)


def test_an_empty_prompt_is_one_chunk(pipes):
    tokenizer = pipes["sd1"].tokenizer
    [chunk] = tokenize_chunks(tokenizer, "")
    assert chunk.tokens == (tokenizer.bos_token_id, *[tokenizer.eos_token_id] * 76)


def test_break_starts_a_new_chunk_encoded_on_its_own(pipes):
    pipe = pipes["sd1"]
    assert len(tokenize_chunks(pipe.tokenizer, "a red fox BREAK in the snow")) == 2
    together = embeds(pipe, "a red fox BREAK in the snow")
    assert torch.allclose(together, torch.cat([embeds(pipe, "a red fox"), embeds(pipe, "in the snow")], dim=1),
                          atol=1e-6)


def test_a_full_chunk_is_cut_after_a_comma_among_its_last_20_tokens(pipes):
    tokenizer = pipes["sd1"].tokenizer
    eos = tokenizer.eos_token_id
    first, second = tokenize_chunks(tokenizer, words("a", 70) + ", " + words("b", 10))
    assert first.tokens[1:73] == (*[A] * 70, COMMA, eos)
    assert second.tokens[:12] == (tokenizer.bos_token_id, *[B] * 10, eos)

    # A comma further back than 20 tokens does not move anything.
    first, second = tokenize_chunks(tokenizer, words("a", 40) + ", " + words("b", 44))
    assert first.tokens[1:77] == (*[A] * 40, COMMA, *[B] * 34, eos)
    assert second.tokens[1:12] == (*[B] * 10, eos)


def test_weight_one_is_the_same_as_no_brackets(pipes):
    pipe = pipes["sd1"]
    assert torch.equal(embeds(pipe, "a (red:1.0) fox"), embeds(pipe, "a red fox"))


def test_a_weight_scales_only_its_tokens_and_the_mean_is_restored(pipes):
    pipe = pipes["sd1"]
    [chunk] = tokenize_chunks(pipe.tokenizer, "a (red:1.5) fox")
    weighted_at = [i for i, m in enumerate(chunk.multipliers) if m != 1.0]
    assert [chunk.multipliers[i] for i in weighted_at] == [1.5]

    plain, weighted = embeds(pipe, "a red fox")[0], embeds(pipe, "a (red:1.5) fox")[0]
    # After weighting, everything is scaled by one factor that brings the mean back.
    scale = plain.mean() / (plain * torch.tensor(chunk.multipliers).unsqueeze(-1)).mean()
    assert not torch.isclose(scale, torch.tensor(1.0))
    others = [i for i in range(77) if i not in weighted_at]
    assert torch.allclose(weighted[others], plain[others] * scale, atol=1e-5)
    assert torch.allclose(weighted[weighted_at], plain[weighted_at] * 1.5 * scale, atol=1e-5)
    assert torch.isclose(weighted.mean(), plain.mean(), atol=1e-6)


def test_prompt_and_negative_are_padded_to_the_same_length_with_the_empty_prompt(pipes):
    pipe = pipes["sd1"]
    empty = embeds(pipe, "")
    short_negative = encode_prompts(pipe, "sd1", words("fox", 150), "blurry")
    assert short_negative.negative_prompt_embeds.shape == short_negative.prompt_embeds.shape
    assert torch.allclose(short_negative.negative_prompt_embeds[:, :77], embeds(pipe, "blurry"), atol=1e-6)
    assert torch.allclose(short_negative.negative_prompt_embeds[:, 77:], empty, atol=1e-6)

    long_negative = encode_prompts(pipe, "sd1", "a red fox", words("blurry", 100))
    assert long_negative.prompt_embeds.shape == long_negative.negative_prompt_embeds.shape
    assert long_negative.prompt_embeds.shape[1] == 154
    assert torch.allclose(long_negative.prompt_embeds[:, 77:], empty, atol=1e-6)


def test_sd2_pads_with_bang_and_sd1_with_end_of_text(pipes):
    for name, pad in (("sd2", BANG), ("sd1", pipes["sd1"].tokenizer.eos_token_id)):
        tokenizer = pipes[name].tokenizer
        [chunk] = tokenize_chunks(tokenizer, "a fox")
        assert chunk.tokens[:4] == (tokenizer.bos_token_id, A, FOX, tokenizer.eos_token_id)
        assert set(chunk.tokens[4:]) == {pad}, name


@pytest.mark.parametrize("name", ["sd1", "sd2", "sdxl"])
def test_a_short_plain_prompt_gives_exactly_what_diffusers_computes(pipes, name):
    pipe = pipes[name]
    ours = encode_prompts(pipe, name, "a red fox in the snow", "blurry")
    with torch.no_grad():
        theirs = pipe.encode_prompt(prompt="a red fox in the snow", device=torch.device("cpu"), num_images_per_prompt=1,
                                    do_classifier_free_guidance=True, negative_prompt="blurry")
    assert torch.allclose(ours.prompt_embeds, theirs[0], atol=1e-5)
    assert torch.allclose(ours.negative_prompt_embeds, theirs[1], atol=1e-5)
    if name == "sdxl":
        assert torch.allclose(ours.pooled, theirs[2], atol=1e-5)
        assert torch.allclose(ours.negative_pooled, theirs[3], atol=1e-5)


def test_sdxl_joins_both_encoders_and_pools_the_first_chunk(pipes):
    pipe = pipes["sdxl"]
    long = encode_prompts(pipe, "sdxl", words("fox", 75) + " " + words("snow", 75), "blurry")
    # 768 + 1280 = 2048 for real SDXL; the tiny encoders are narrower.
    width = pipe.text_encoder.config.hidden_size + pipe.text_encoder_2.config.hidden_size
    assert long.prompt_embeds.shape == (1, 154, width)
    assert long.pooled.shape == (1, pipe.text_encoder_2.config.projection_dim)
    first_only = encode_prompts(pipe, "sdxl", words("fox", 75), "blurry")
    second_only = encode_prompts(pipe, "sdxl", words("snow", 75), "blurry")
    assert torch.allclose(long.pooled, first_only.pooled, atol=1e-6)
    assert not torch.allclose(long.pooled, second_only.pooled, atol=1e-3)


def test_sdxl_empty_negative_prompt_is_zeros_as_in_a1111(pipes):
    sdxl = encode_prompts(pipes["sdxl"], "sdxl", "a red fox", "")
    assert not sdxl.negative_prompt_embeds.any() and not sdxl.negative_pooled.any()
    assert encode_prompts(pipes["sd1"], "sd1", "a red fox", "").negative_prompt_embeds.any()


def test_prompt_editing_switches_when_a1111_does(pipes):
    # A1111 counts model calls from 0 and uses an entry up to and including its end step.
    conditioning = encode_schedules(pipes["sd1"], "sd1", "[cat:dog:2]", "blurry", steps=4)
    assert [conditioning.entries_at(step) for step in range(4)] == [(0, 0), (0, 0), (0, 0), (1, 0)]
    assert [step for step in range(4) if conditioning.changes_at(step)] == [3]
    assert torch.allclose(conditioning.at(3).prompt_embeds, embeds(pipes["sd1"], "dog"), atol=1e-6)


def test_the_second_chunk_of_a_long_prompt_changes_the_image(engines, tiny_models, tmp_path):
    request = tiny_request(tiny_models["sd1"], steps=2)
    [cut] = engines["sd1"].generate(request.replace(prompt=words("fox", 75)), Recorder(), output_dir=tmp_path)
    [long] = engines["sd1"].generate(request.replace(prompt=words("fox", 75) + " " + words("snow", 75)),
                                     Recorder(), output_dir=tmp_path)
    assert np.abs(pixels(cut.image) - pixels(long.image)).max() > 0


def test_prompt_editing_changes_the_image_and_is_reproducible(engines, tiny_models, tmp_path):
    request = tiny_request(tiny_models["sd1"], steps=4)

    def image(prompt: str) -> np.ndarray:
        [done] = engines["sd1"].generate(request.replace(prompt=prompt), Recorder(), output_dir=tmp_path)
        return pixels(done.image)

    edited = image("[cat:dog:2]")
    assert np.abs(edited - image("cat")).max() > 0
    assert np.abs(edited - image("dog")).max() > 0
    assert np.array_equal(edited, image("[cat:dog:2]"))



def test_a_clip_skip_beyond_the_encoder_says_so(pipes):
    from core.errors import RequestError

    with pytest.raises(RequestError, match="Clip skip 99"):
        encode_texts(pipes["sd1"], "sd1", ["a red fox"], clip_skip=99)
