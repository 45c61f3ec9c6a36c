"""`<lora:name:weight>` tags: LoRAs found by name, applied as adapters, reused, and taken off exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from core.events import Failed, ImageDone
from core.models.detect import detect_model
from core.paths import AppPaths
from core.pipelines.lora import applied_loras
from core.synthetic import tiny_lora_tensors, tiny_spec, write_safetensors, write_tiny_checkpoint, write_tiny_lora
from tests.models import Recorder, make_engine, tiny_request

PROMPT = "a red fox in the snow"
COMPONENTS = ("unet", "text_encoder", "text_encoder_2")


@pytest.fixture(scope="module")
def sd1(tmp_path_factory: pytest.TempPathFactory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("lora-sd1"), "sd1", seed=1)


@pytest.fixture(scope="module")
def lora_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lora-home")
    loras = AppPaths(home).ensure().models_dir / "loras"
    write_tiny_lora(loras / "detail_kohya.safetensors", "sd1", style="kohya", seed=10)
    write_tiny_lora(loras / "detail_sgm.safetensors", "sd1", style="kohya-sgm", seed=10)  # same weights, LDM names
    write_tiny_lora(loras / "style_peft.safetensors", "sd1", style="peft", seed=11)
    write_tiny_lora(loras / "old_diffusers.safetensors", "sd1", style="diffusers", seed=12)
    write_sdxl_shaped_lora(loras / "add_detail.safetensors")
    write_misfit_lora(loras / "misfit.safetensors")
    return home


@pytest.fixture(scope="module")
def engine(lora_home: Path):
    return make_engine(lora_home)


def write_sdxl_shaped_lora(path: Path) -> None:
    """A kohya SDXL LoRA's names and real widths (cross-attention 2048, OpenCLIP 1280), zero-filled."""
    unet = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    te2 = "lora_te2_text_model_encoder_layers_0_self_attn_k_proj"
    write_safetensors(path, {
        f"{unet}.lora_down.weight": torch.zeros(4, 2048, dtype=torch.float16),
        f"{unet}.lora_up.weight": torch.zeros(640, 4, dtype=torch.float16),
        f"{te2}.lora_down.weight": torch.zeros(4, 1280, dtype=torch.float16),
        f"{te2}.lora_up.weight": torch.zeros(1280, 4, dtype=torch.float16),
    })


def write_misfit_lora(path: Path) -> None:
    """A peft LoRA with no version hint whose UNet part fits SD 1.x but whose text-encoder part does not."""
    tensors = tiny_lora_tensors("sd1", style="peft", seed=13)
    name = "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight"
    tensors[name] = torch.zeros(4, 48)
    write_safetensors(path, tensors)


def generate(engine, model, prompt: str = PROMPT) -> tuple[Recorder, list[ImageDone]]:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    done = engine.generate(tiny_request(model, prompt=prompt), recorder)
    return recorder, done


def image_of(engine, model, prompt: str = PROMPT) -> np.ndarray:  # type: ignore[no-untyped-def]
    recorder, done = generate(engine, model, prompt)
    assert not recorder.of(Failed), recorder.of(Failed)
    return np.asarray(done[0].image, dtype=np.int16)


def weights(engine) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    pipe = engine.loaded_model.base
    return {f"{component}.{key}": value.detach().clone()
            for component in COMPONENTS if getattr(pipe, component, None) is not None
            for key, value in getattr(pipe, component).state_dict().items()}


def lora_layers(engine) -> list[torch.nn.Module]:  # type: ignore[no-untyped-def]
    """The low-rank modules peft added to the UNet and text encoders, one per adapter and layer."""
    pipe = engine.loaded_model.base
    return [module for component in COMPONENTS if getattr(pipe, component, None) is not None
            for layer in getattr(pipe, component).modules() if hasattr(layer, "lora_A")
            for module in layer.lora_A.values()]


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture(scope="module")
def base(engine, sd1) -> tuple[np.ndarray, dict[str, torch.Tensor]]:  # type: ignore[no-untyped-def]
    """The image without LoRAs and every UNet/text-encoder weight, before any LoRA was applied."""
    return image_of(engine, sd1), weights(engine)


@pytest.mark.parametrize("name", ["detail_kohya", "style_peft", "old_diffusers"])
def test_each_lora_format_changes_the_image(engine, sd1, base, name: str) -> None:
    with_lora = image_of(engine, sd1, f"{PROMPT} <lora:{name}:1>")
    assert mean_difference(base[0], with_lora) > 2.0
    assert [lora.name for lora in applied_loras(engine.loaded_model)] == [name]


def test_weight_zero_gives_the_image_without_the_tag(engine, sd1, base) -> None:
    zero = image_of(engine, sd1, f"{PROMPT} <lora:detail_kohya:0>")
    assert np.abs(base[0] - zero).max() <= 1


def test_text_encoder_weight_is_applied_separately(engine, sd1, base) -> None:
    both = image_of(engine, sd1, f"{PROMPT} <lora:detail_kohya:1>")
    unet_only = image_of(engine, sd1, f"{PROMPT} <lora:detail_kohya:0:1>")
    assert mean_difference(both, unet_only) > 0.5
    assert mean_difference(base[0], unet_only) > 0.5


def test_two_loras_at_once_are_both_active(engine, sd1, base) -> None:
    _, done = generate(engine, sd1, f"{PROMPT} <lora:detail_kohya:0.8> <lora:style_peft:0.8>")
    assert mean_difference(base[0], np.asarray(done[0].image, dtype=np.int16)) > 2.0
    applied = applied_loras(engine.loaded_model)
    assert [lora.name for lora in applied] == ["detail_kohya", "style_peft"]
    assert sorted(engine.loaded_model.base.get_active_adapters()) == sorted(lora.adapter for lora in applied)
    assert 'Lora hashes: "detail_kohya: ' in done[0].infotext and ", style_peft: " in done[0].infotext


def test_a_request_without_tags_restores_the_base_model_exactly(engine, sd1, base) -> None:
    image_of(engine, sd1, f"{PROMPT} <lora:detail_kohya:1> <lora:old_diffusers:0.5:0.7>")
    assert lora_layers(engine)
    plain_again = image_of(engine, sd1)
    after = weights(engine)
    assert lora_layers(engine) == []
    assert after.keys() == base[1].keys()
    assert all(torch.equal(base[1][key], after[key]) for key in after)
    assert np.array_equal(base[0], plain_again)


def test_the_same_tags_again_reuse_the_loaded_adapters(engine, sd1) -> None:
    first = image_of(engine, sd1, f"{PROMPT} <lora:style_peft:0.7>")
    layers = lora_layers(engine)
    second = image_of(engine, sd1, f"{PROMPT} <lora:style_peft:0.7>")
    assert layers and all(a is b for a, b in zip(layers, lora_layers(engine), strict=True))
    assert np.array_equal(first, second)


def test_a_lora_for_another_architecture_is_refused_before_anything_is_applied(engine, sd1, base) -> None:
    recorder, done = generate(engine, sd1, f"{PROMPT} <lora:add_detail:1>")
    failed = recorder.of(Failed)
    assert done == [] and len(failed) == 1
    assert failed[0].message == "add_detail is a LoRA for SDXL; the model is SD 1.x."
    assert failed[0].hint == "Remove the tag or choose an SDXL model."
    assert all(lora.name != "add_detail" for lora in applied_loras(engine.loaded_model))


def test_a_lora_of_unknown_version_that_does_not_fit_is_refused_and_taken_off(engine, sd1, base) -> None:
    recorder, done = generate(engine, sd1, f"{PROMPT} <lora:misfit:1>")
    failed = recorder.of(Failed)
    assert done == [] and len(failed) == 1
    assert failed[0].message.startswith("misfit does not fit this SD 1.x model")
    assert lora_layers(engine) == [] and applied_loras(engine.loaded_model) == []
    after = weights(engine)
    assert after.keys() == base[1].keys() and all(torch.equal(base[1][key], after[key]) for key in after)


def test_a_missing_lora_fails_with_its_name_and_close_names(engine, sd1) -> None:
    recorder, done = generate(engine, sd1, f"{PROMPT} <lora:detail_kohyaa:1>")
    failed = recorder.of(Failed)
    assert done == [] and len(failed) == 1
    assert "detail_kohyaa" in failed[0].message
    assert "detail_kohya" in failed[0].hint


def test_infotext_keeps_the_tag_and_names_the_lora_hash(engine, sd1, lora_home: Path) -> None:
    path = AppPaths(lora_home).models_dir / "loras" / "detail_kohya.safetensors"
    expected = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    _, done = generate(engine, sd1, f"{PROMPT} <lora:detail_kohya:0.6>")
    assert done[0].infotext.startswith(f"{PROMPT} <lora:detail_kohya:0.6>\n")
    assert f'Lora hashes: "detail_kohya: {expected}"' in done[0].infotext


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """An SDXL engine with two twin kohya LoRAs (diffusers and LDM names), its plain image and weights."""
    root = tmp_path_factory.mktemp("lora-sdxl")
    model = write_tiny_checkpoint(root / "sdxl", "sdxl", seed=3)
    loras = AppPaths(root / "home").ensure().models_dir / "loras"
    write_tiny_lora(loras / "xl_kohya.safetensors", "sdxl", style="kohya")
    write_tiny_lora(loras / "xl_sgm.safetensors", "sdxl", style="kohya-sgm")
    engine = make_engine(root / "home")
    return engine, model, loras, image_of(engine, model), weights(engine)


def test_a_kohya_sdxl_lora_with_two_text_encoders_applies_and_comes_off(sdxl) -> None:  # type: ignore[no-untyped-def]
    engine, model, _, plain, before = sdxl
    with_lora = image_of(engine, model, f"{PROMPT} <lora:xl_kohya:1>")
    assert mean_difference(plain, with_lora) > 2.0
    assert set(engine.loaded_model.base.get_list_adapters()) == {"unet", "text_encoder", "text_encoder_2"}
    assert np.array_equal(plain, image_of(engine, model))
    after = weights(engine)
    assert all(torch.equal(before[key], after[key]) for key in before)


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl", "sdxl-refiner"])
def test_ldm_block_names_map_back_through_diffusers_to_the_same_layers(family: str) -> None:
    from diffusers.configuration_utils import FrozenDict
    from diffusers.loaders.lora_conversion_utils import (
        _convert_non_diffusers_lora_to_diffusers, _maybe_map_sgm_blocks_to_diffusers)

    sgm = tiny_lora_tensors(family, style="kohya-sgm", seed=5)
    mapped = _maybe_map_sgm_blocks_to_diffusers(dict(sgm), FrozenDict(tiny_spec(family).unet))
    converted, alphas = _convert_non_diffusers_lora_to_diffusers(mapped)
    expected, expected_alphas = _convert_non_diffusers_lora_to_diffusers(tiny_lora_tensors(family, style="kohya", seed=5))
    assert converted.keys() == expected.keys() and alphas == expected_alphas
    assert all(torch.equal(converted[key], expected[key]) for key in expected)


def test_sgm_names_are_those_of_real_sdxl_loras() -> None:
    names = tiny_lora_tensors("sdxl", style="kohya-sgm")
    for block in ("input_blocks_4_1", "input_blocks_5_1", "middle_block_1", "output_blocks_0_1", "output_blocks_2_1"):
        assert f"lora_unet_{block}_transformer_blocks_0_attn1_to_q.lora_down.weight" in names
    assert "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight" in names
    assert not any("down_blocks" in name or "up_blocks" in name for name in names)


def assert_sgm_twin_applies_like_its_diffusers_twin(engine, model, plain: np.ndarray,  # type: ignore[no-untyped-def]
                                                    before: dict[str, torch.Tensor], loras: Path,
                                                    sgm: str, twin: str) -> None:
    info, twin_info = detect_model(loras / f"{sgm}.safetensors"), detect_model(loras / f"{twin}.safetensors")
    assert (info.kind, info.architecture) == ("lora", twin_info.architecture)
    with_sgm = image_of(engine, model, f"{PROMPT} <lora:{sgm}:1>")
    assert mean_difference(plain, with_sgm) > 2.0
    assert np.abs(with_sgm - image_of(engine, model, f"{PROMPT} <lora:{twin}:1>")).max() <= 1
    image_of(engine, model, f"{PROMPT} <lora:{sgm}:1>")
    assert np.array_equal(plain, image_of(engine, model))
    after = weights(engine)
    assert lora_layers(engine) == [] and all(torch.equal(before[key], after[key]) for key in before)


def test_an_sd1_lora_with_ldm_block_names_applies_like_its_twin(engine, sd1, base, lora_home: Path) -> None:
    loras = AppPaths(lora_home).models_dir / "loras"
    assert_sgm_twin_applies_like_its_diffusers_twin(engine, sd1, *base, loras, "detail_sgm", "detail_kohya")


def test_an_sdxl_lora_with_ldm_block_names_applies_like_its_twin(sdxl) -> None:  # type: ignore[no-untyped-def]
    engine, model, loras, plain, before = sdxl
    assert_sgm_twin_applies_like_its_diffusers_twin(engine, model, plain, before, loras, "xl_sgm", "xl_kohya")
