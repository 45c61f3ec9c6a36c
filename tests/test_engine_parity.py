"""The engine adds no hidden change: the same image as a plain diffusers pipeline built by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.tokenizer import BANG_PAD, load_clip_tokenizer
from tests.models import Recorder, tiny_request


def plain_pipeline(model):  # type: ignore[no-untyped-def]
    import diffusers

    tokenizers = {"tokenizer": load_clip_tokenizer()}
    if model.family == "sdxl":
        cls = diffusers.StableDiffusionXLPipeline
        tokenizers["tokenizer_2"] = load_clip_tokenizer(BANG_PAD)
        extra = {}
    else:
        cls = diffusers.StableDiffusionPipeline
        extra = {"safety_checker": None, "feature_extractor": None}
    pipe = cls.from_single_file(str(model.checkpoint), config=str(model.config_dir), local_files_only=True,
                                torch_dtype=torch.float32, **tokenizers, **extra)
    # A1111's "Euler" with the Automatic (uniform) schedule, spelled out in diffusers' terms.
    pipe.scheduler = diffusers.EulerDiscreteScheduler.from_config(
        pipe.scheduler.config, timestep_spacing="linspace", use_karras_sigmas=False, use_exponential_sigmas=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.mark.parametrize("name", ["sd1", "sdxl"])
def test_engine_image_equals_plain_diffusers_image(tmp_path, tiny_models, name):
    from tests.models import make_engine

    model = tiny_models[name]
    request = tiny_request(model, steps=4, cfg_scale=6.5, seed=31337)
    [ours] = make_engine(tmp_path / "home").generate(request, Recorder(), output_dir=tmp_path)
    expected = plain_pipeline(model)(
        request.prompt, negative_prompt=request.negative_prompt, num_inference_steps=4, guidance_scale=6.5,
        width=64, height=64, generator=torch.Generator("cpu").manual_seed(31337),
    ).images[0]
    difference = np.abs(np.asarray(ours.image, dtype=np.int16) - np.asarray(expected, dtype=np.int16))
    assert difference.max() <= 1, f"engine differs from plain diffusers by up to {difference.max()} levels"


def test_clip_skip_2_equals_the_penultimate_layer_through_the_final_norm(tmp_path, tiny_models):
    """A1111's clip skip 2, computed independently from the text encoder's hidden states."""
    from core.prompts.encoding import encode_texts
    from tests.models import make_engine

    engine = make_engine(tmp_path / "home")
    engine.generate(tiny_request(tiny_models["sd1"], steps=1), Recorder(), output_dir=tmp_path)
    pipe = engine.loaded_model.base
    ids = pipe.tokenizer("a red fox", padding="max_length", max_length=77, return_tensors="pt").input_ids
    norm = getattr(pipe.text_encoder, "text_model", pipe.text_encoder).final_layer_norm
    with torch.no_grad():
        hidden = pipe.text_encoder(ids, output_hidden_states=True).hidden_states
        expected = torch.nn.functional.layer_norm(hidden[-2], hidden[-2].shape[-1:], norm.weight, norm.bias, norm.eps)
        last_layer = pipe.text_encoder(ids).last_hidden_state
    [skipped] = encode_texts(pipe, "sd1", ["a red fox"], clip_skip=2)
    [plain] = encode_texts(pipe, "sd1", ["a red fox"], clip_skip=1)
    assert torch.allclose(skipped.embeds, expected, atol=1e-6)
    assert torch.allclose(plain.embeds, last_layer, atol=1e-5)
    assert not torch.allclose(skipped.embeds, plain.embeds, atol=1e-3)
