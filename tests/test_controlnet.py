"""ControlNet: files as A1111 users have them, found and loaded offline, steering every mode as the extension does."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from accelerate import init_empty_weights
from diffusers import ControlNetModel, UNet2DConditionModel
from PIL import Image, ImageDraw

from core.controlnet import ControlUnit
from core.device import plan_device
from core.errors import ModelFileError
from core.events import Failed, ModelLoading
from core.images import read_png_text
from core.model_resolution import ModelResolver
from core.models.detect import detect_model
from core.models.hashing import legacy_model_hash
from core.paths import AppPaths, resources_dir
from core.pipelines.control_hook import ActiveUnit
from core.pipelines.controlnet import ControlNetSource, controlnet_config, load_controlnet
from core.request import Mode
from core.settings import Settings
from core.synthetic import tiny_spec
from core.synthetic.controlnet import tiny_controlnet, write_tiny_controlnet
from tests.models import Recorder, tiny_request

CPU = plan_device("cpu", "auto", "auto")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def shape_image(path, kind: str):  # type: ignore[no-untyped-def]
    image = Image.new("RGB", (64, 64))
    draw = ImageDraw.Draw(image)
    if kind == "square":
        draw.rectangle((10, 10, 40, 40), fill="white")
    else:
        draw.ellipse((20, 4, 60, 50), fill="white")
    image.save(path)
    return path


@pytest.fixture
def controls(tmp_path):  # type: ignore[no-untyped-def]
    return shape_image(tmp_path / "square.png", "square"), shape_image(tmp_path / "disc.png", "disc")


def generate(engine, model, out, units=(), **changes):  # type: ignore[no-untyped-def]
    events = Recorder()
    done = engine.generate(tiny_request(model, controlnets=tuple(units), **changes), events, output_dir=out)
    failures = events.of(Failed)
    assert not failures, failures[0].message + "\n" + failures[0].details
    return done[0], events


def image_of(engine, model, out, units=(), **changes) -> np.ndarray:  # type: ignore[no-untyped-def]
    return pixels(generate(engine, model, out, units, **changes)[0].image)


def tiny_unet_config(family: str) -> dict:
    with init_empty_weights():
        return dict(UNet2DConditionModel(**tiny_spec(family).unet).config)


# ---------------------------------------------------------------- files, detection, loading

@pytest.mark.parametrize("family, layout, file_format", [
    ("sd1", "ldm", "safetensors"), ("sd1", "ldm", "pth"), ("sd1", "diffusers", "safetensors"),
    ("sdxl", "ldm", "safetensors"), ("sdxl", "diffusers", "safetensors"),
])
def test_single_file_controlnets_are_detected_and_load_every_weight(tmp_path, family, layout, file_format):
    path = write_tiny_controlnet(tmp_path, family, seed=3, layout=layout, file_format=file_format)
    info = detect_model(path)
    assert (info.kind, info.architecture, info.supported) == ("controlnet", family, True)
    model = load_controlnet(ControlNetSource(path, family, path.stem), tiny_unet_config(family), CPU)
    expected = tiny_controlnet(family, seed=3).state_dict()
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[name], expected[name]) for name in expected)


def test_the_ldm_file_uses_the_original_controlnet_names(tiny_controlnets):
    from safetensors import safe_open

    with safe_open(tiny_controlnets["sdxl"], "pt") as file:
        names = set(file.keys())
    assert all(name.startswith("control_model.") for name in names)
    for name in ("control_model.input_hint_block.0.weight", "control_model.input_hint_block.14.weight",
                 "control_model.zero_convs.0.0.weight", "control_model.middle_block_out.0.weight",
                 "control_model.time_embed.0.weight", "control_model.label_emb.0.0.weight",
                 "control_model.input_blocks.0.0.weight"):
        assert name in names, name


def test_a_diffusers_folder_loads(tmp_path):
    folder = tmp_path / "my-controlnet"
    tiny_controlnet("sd1", seed=4).save_pretrained(folder)
    model = load_controlnet(ControlNetSource(folder, "sd1", folder.name), tiny_unet_config("sd1"), CPU)
    expected = tiny_controlnet("sd1", seed=4).state_dict()
    assert torch.equal(model.state_dict()["conv_in.weight"], expected["conv_in.weight"])


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_configs_derived_from_the_base_unet_are_the_published_controlnet_configs(family):
    """lllyasviel/control_v11p_sd15_openpose and diffusers/controlnet-canny-sdxl-1.0, shipped for reference."""
    published = ControlNetModel.load_config(str(resources_dir() / "configs" / f"controlnet-{family}"))
    with init_empty_weights():
        reference = ControlNetModel.from_config(published)
        unet = UNet2DConditionModel.from_config(
            UNet2DConditionModel.load_config(str(resources_dir() / "configs" / family), subfolder="unet"))
    derived = controlnet_config(dict(unet.config), reference.state_dict())
    with init_empty_weights():
        rebuilt = ControlNetModel.from_config(derived)
    assert {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    for key in ("attention_head_dim", "cross_attention_dim", "use_linear_projection", "transformer_layers_per_block",
                "addition_time_embed_dim", "projection_class_embeddings_input_dim", "down_block_types"):
        assert rebuilt.config[key] == reference.config[key], key
    assert sum(p.numel() for p in reference.parameters()) == {"sd1": 361_279_120, "sdxl": 1_251_014_160}[family]


# ---------------------------------------------------------------- finding ControlNets

def resolver_for(home) -> ModelResolver:  # type: ignore[no-untyped-def]
    paths = AppPaths(home).ensure()
    return ModelResolver.from_settings(paths, Settings())


def test_controlnets_are_found_by_name_and_a1111_title_with_the_legacy_hash(easel_home, tiny_controlnets):
    folder = easel_home / "models" / "controlnet"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_controlnets["sd1"], folder / "control_v11p_sd15_openpose.safetensors")
    resolver = resolver_for(easel_home)
    source = resolver.resolve_controlnet("control_v11p_sd15_openpose", "sd1")
    digest = legacy_model_hash(folder / "control_v11p_sd15_openpose.safetensors")
    assert source.title == f"control_v11p_sd15_openpose [{digest}]" and source.architecture == "sd1"
    assert resolver.resolve_controlnet(source.title, "sd1").path == source.path  # as the infotext names it


def test_a_diffusers_controlnet_folder_is_found_by_its_name(easel_home):
    tiny_controlnet("sd1").save_pretrained(easel_home / "models" / "controlnet" / "cn-canny")
    source = resolver_for(easel_home).resolve_controlnet("cn-canny", "sd1")
    assert source.path.is_dir() and source.title == "cn-canny" and source.architecture == "sd1"


def test_a_controlnet_for_another_family_or_a_checkpoint_is_refused(easel_home, tiny_controlnets, tiny_models):
    resolver = resolver_for(easel_home)
    with pytest.raises(ModelFileError, match="made for SDXL models, but the checkpoint is SD1"):
        resolver.resolve_controlnet(str(tiny_controlnets["sdxl"]), "sd1")
    with pytest.raises(ModelFileError, match="is a checkpoint, not a ControlNet"):
        resolver.resolve_controlnet(str(tiny_models["sd1"].checkpoint), "sd1")


# ---------------------------------------------------------------- generating

def test_the_control_image_steers_the_image_and_the_same_one_reproduces_it(
        shared_engine, tiny_models, tiny_controlnets, controls, tmp_path):
    model, net = tiny_models["sd1"], str(tiny_controlnets["sd1"])
    square, disc = controls
    plain = image_of(shared_engine, model, tmp_path)
    first = image_of(shared_engine, model, tmp_path, [ControlUnit(net, image=square)])
    again = image_of(shared_engine, model, tmp_path, [ControlUnit(net, image=square)])
    other = image_of(shared_engine, model, tmp_path, [ControlUnit(net, image=disc)])
    assert np.array_equal(first, again)
    assert np.abs(first - other).mean() > 1 and np.abs(first - plain).mean() > 1


def test_only_the_control_image_changing_loads_nothing_again(shared_engine, tiny_models, tiny_controlnets, controls,
                                                             tmp_path):
    model, net = tiny_models["sd1"], str(tiny_controlnets["sd1"])
    generate(shared_engine, model, tmp_path, [ControlUnit(net, image=controls[0])])
    loads, controlnet_loads = shared_engine.load_count, shared_engine.controlnet_load_count
    _, events = generate(shared_engine, model, tmp_path, [ControlUnit(net, image=controls[1], weight=0.5)])
    assert (shared_engine.load_count, shared_engine.controlnet_load_count) == (loads, controlnet_loads)
    assert not events.of(ModelLoading)


def test_weight_zero_is_no_control_and_the_weight_scales_it(shared_engine, tiny_models, tiny_controlnets, controls,
                                                             tmp_path):
    model, unit = tiny_models["sd1"], ControlUnit(str(tiny_controlnets["sd1"]), image=controls[0])
    plain = image_of(shared_engine, model, tmp_path)
    zero = image_of(shared_engine, model, tmp_path, [unit.replace(weight=0.0)])
    half = image_of(shared_engine, model, tmp_path, [unit.replace(weight=0.5)])
    full = image_of(shared_engine, model, tmp_path, [unit])
    assert np.abs(zero - plain).max() <= 1
    assert 0 < np.abs(half - plain).mean() < np.abs(full - plain).mean()


def test_guidance_start_and_end_choose_the_steps_and_are_recorded(shared_engine, tiny_models, tiny_controlnets,
                                                                  controls, tmp_path):
    model, unit = tiny_models["sd1"], ControlUnit(str(tiny_controlnets["sd1"]), image=controls[0])
    plain = image_of(shared_engine, model, tmp_path, steps=4)
    full = image_of(shared_engine, model, tmp_path, [unit], steps=4)
    never = image_of(shared_engine, model, tmp_path, [unit.replace(guidance_end=0.0)], steps=4)
    late = image_of(shared_engine, model, tmp_path, [unit.replace(guidance_start=1.0)], steps=4)
    done, _ = generate(shared_engine, model, tmp_path, [unit.replace(guidance_start=0.25, guidance_end=0.5)], steps=4)
    assert np.array_equal(never, plain) and np.array_equal(late, plain)
    part = pixels(done.image)
    assert not np.array_equal(part, plain) and not np.array_equal(part, full)
    assert "Guidance Start: 0.25, Guidance End: 0.5" in done.infotext


def test_two_units_at_once_add_up(shared_engine, tiny_models, tiny_controlnets, controls, tmp_path):
    model, net = tiny_models["sd1"], str(tiny_controlnets["sd1"])
    one = ControlUnit(net, image=controls[0])
    two = ControlUnit(net, image=controls[1], preprocessor="invert", control_mode="ControlNet is more important")
    first = image_of(shared_engine, model, tmp_path, [one])
    second = image_of(shared_engine, model, tmp_path, [two])
    done, _ = generate(shared_engine, model, tmp_path, [one, two])
    both = pixels(done.image)
    assert np.abs(both - first).mean() > 1 and np.abs(both - second).mean() > 1
    assert 'ControlNet 0: "Module: none,' in done.infotext
    assert 'ControlNet 1: "Module: invert (from white bg & black line),' in done.infotext
    assert "Control Mode: ControlNet is more important" in done.infotext


def test_control_modes_give_different_images(shared_engine, tiny_models, tiny_controlnets, controls, tmp_path):
    model, unit = tiny_models["sd1"], ControlUnit(str(tiny_controlnets["sd1"]), image=controls[0])
    plain = image_of(shared_engine, model, tmp_path)
    images = {mode: image_of(shared_engine, model, tmp_path, [unit.replace(control_mode=mode)])
              for mode in ("Balanced", "My prompt is more important", "ControlNet is more important")}
    balanced, prompt, control = images.values()
    # Soft injection keeps only a fraction of the shallow layers' control: closer to no control at all.
    assert np.abs(prompt - plain).mean() < np.abs(balanced - plain).mean()
    assert np.abs(control - prompt).mean() > 0.5  # conditional half only: guidance pushes towards the control


def test_soft_injection_uses_the_extensions_factors():
    unit = ActiveUnit(net=None, hint=np.zeros((8, 8, 3), np.float32), weight=0.5, guidance_start=0.0,
                      guidance_end=1.0, control_mode="My prompt is more important")
    sd15 = unit.layer_scales(13)  # 12 down-block residuals and the middle block's
    assert sd15[0] == pytest.approx(0.5 * 0.825**12) and sd15[-1] == pytest.approx(0.5)
    assert unit.layer_scales(10)[-1] == pytest.approx(0.5 * 0.825**3)  # SDXL: the first 10 factors
    assert ActiveUnit(None, unit.hint, 0.5, 0.0, 1.0, "Balanced").layer_scales(3) == [0.5, 0.5, 0.5]


def test_control_works_with_and_composition_and_prompt_editing(shared_engine, tiny_models, tiny_controlnets,
                                                               controls, tmp_path):
    model, unit = tiny_models["sd1"], ControlUnit(str(tiny_controlnets["sd1"]), image=controls[0])
    for prompt in ("a cat AND a dog:0.5", "a [cat:dog:0.5] in the snow"):
        plain = image_of(shared_engine, model, tmp_path, prompt=prompt)
        steered = image_of(shared_engine, model, tmp_path, [unit], prompt=prompt)
        assert np.abs(steered - plain).mean() > 1, prompt


def test_img2img_uses_the_init_image_as_control_when_the_unit_has_none(shared_engine, tiny_models, tiny_controlnets,
                                                                       tmp_path):
    model = tiny_models["sd1"]
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(init)
    img2img = dict(mode=Mode.IMG2IMG, init_image=init, denoising_strength=0.9)
    plain = image_of(shared_engine, model, tmp_path, **img2img)
    steered = image_of(shared_engine, model, tmp_path, [ControlUnit(str(tiny_controlnets["sd1"]))], **img2img)
    assert np.abs(steered - plain).mean() > 1


@pytest.mark.parametrize("checkpoint", ["sd1", "sd1-inpaint"])
def test_inpaint_with_the_inpaint_preprocessor_keeps_the_unmasked_area(tmp_path, tiny_models, tiny_controlnets,
                                                                       checkpoint):
    from tests.models import make_engine

    engine = make_engine(tmp_path / "home")
    init, mask = tmp_path / "init.png", tmp_path / "mask.png"
    Image.new("RGB", (64, 64), (40, 160, 200)).save(init)
    area = Image.new("L", (64, 64))
    area.paste(255, (24, 24, 40, 40))
    area.save(mask)
    inpaint = dict(mode=Mode.INPAINT, init_image=init, mask=mask, mask_blur=0, denoising_strength=1.0)
    unit = ControlUnit(str(tiny_controlnets["sd1"]), preprocessor="inpaint")
    plain = image_of(engine, tiny_models[checkpoint], tmp_path, **inpaint)
    done, _ = generate(engine, tiny_models[checkpoint], tmp_path, [unit], **inpaint)
    steered = pixels(done.image)
    assert np.abs(steered - plain)[24:40, 24:40].mean() > 1
    assert (steered[:16] == (40, 160, 200)).all()  # outside the mask: the original, untouched
    assert "Module: inpaint_global_harmonious" in done.infotext


def test_sdxl_controlnets_steer_sdxl_models(tmp_path, tiny_models, tiny_controlnets, controls):
    from tests.models import make_engine

    engine = make_engine(tmp_path / "home")
    model, net = tiny_models["sdxl"], str(tiny_controlnets["sdxl"])
    first = image_of(engine, model, tmp_path, [ControlUnit(net, image=controls[0])])
    again = image_of(engine, model, tmp_path, [ControlUnit(net, image=controls[0])])
    prompt_first = ControlUnit(net, image=controls[1], control_mode="My prompt is more important")
    other = image_of(engine, model, tmp_path, [prompt_first])
    assert np.array_equal(first, again) and np.abs(first - other).mean() > 1


def person(x: float) -> list[float]:
    """An upright COCO-18 body around x (pixels), every keypoint present."""
    joints = [(0, 10), (0, 18), (-8, 18), (-10, 28), (-11, 38), (8, 18), (10, 28), (11, 38), (-5, 38), (-5, 48),
              (-5, 58), (5, 38), (5, 48), (5, 58), (-2, 8), (2, 8), (-4, 9), (4, 9)]
    return [value for dx, dy in joints for value in (x + dx, dy, 1.0)]


def test_a_pose_file_is_drawn_and_steers_the_image(shared_engine, tiny_models, tiny_controlnets, tmp_path):
    pytest.importorskip("core.pose")
    poses = []
    for name, x in (("left", 20.0), ("right", 44.0)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"canvas_width": 64, "canvas_height": 64,
                                    "people": [{"pose_keypoints_2d": person(x)}]}))
        poses.append(path)
    model, net = tiny_models["sd1"], str(tiny_controlnets["sd1"])
    first = image_of(shared_engine, model, tmp_path, [ControlUnit(net, type="openpose", pose=poses[0])])
    again = image_of(shared_engine, model, tmp_path, [ControlUnit(net, type="openpose", pose=poses[0])])
    other = image_of(shared_engine, model, tmp_path, [ControlUnit(net, type="openpose", pose=poses[1])])
    assert np.array_equal(first, again) and np.abs(first - other).mean() > 0.5


@pytest.mark.parametrize("unit_changes, request_changes, message", [
    ({}, {}, "ControlNet unit 0 has no control image"),
    ({"preprocessor": "inpaint", "image": "square"}, {}, "inpaint preprocessor, which needs a mask"),
    ({"preprocessor": "depth", "image": "square"}, {}, "Depth Anything V2 Small needs its weights"),
    ({"image": "square", "guidance_start": 0.8, "guidance_end": 0.2}, {}, "are not in order"),
    ({"image": "square", "control_mode": "Strong"}, {}, "unknown control mode"),
])
def test_units_that_cannot_run_fail_with_a_message(shared_engine, tiny_models, tiny_controlnets, controls, tmp_path,
                                                   unit_changes, request_changes, message):
    if unit_changes.get("image") == "square":
        unit_changes = {**unit_changes, "image": controls[0]}
    unit = ControlUnit(str(tiny_controlnets["sd1"]), **unit_changes)
    events = Recorder()
    shared_engine.generate(tiny_request(tiny_models["sd1"], controlnets=(unit,), **request_changes), events,
                           output_dir=tmp_path)
    [failure] = events.of(Failed)
    assert message in failure.message


def test_an_sdxl_controlnet_on_an_sd1_model_is_refused_before_loading(shared_engine, tiny_models, tiny_controlnets,
                                                                      controls, tmp_path):
    events = Recorder()
    unit = ControlUnit(str(tiny_controlnets["sdxl"]), image=controls[0])
    shared_engine.generate(tiny_request(tiny_models["sd1"], controlnets=(unit,)), events, output_dir=tmp_path)
    [failure] = events.of(Failed)
    assert "made for SDXL models" in failure.message


def test_the_png_keeps_the_units_for_reuse(shared_engine, tiny_models, tiny_controlnets, controls, tmp_path):
    unit = ControlUnit(str(tiny_controlnets["sd1"]), type="canny", image=controls[0], preprocessor="canny",
                       threshold_a=50, weight=0.8, resize_mode="Just Resize")
    done, _ = generate(shared_engine, tiny_models["sd1"], tmp_path, [unit])
    stored = json.loads(read_png_text(done.path)["easel"])
    assert stored["controlnets"][0]["image"] == str(controls[0]) and stored["controlnets"][0]["threshold_a"] == 50
    digest = legacy_model_hash(tiny_controlnets["sd1"])
    assert (f'ControlNet 0: "Module: canny, Model: tiny-controlnet-sd1 [{digest}], Weight: 0.8, Resize Mode: '
            'Just Resize, Processor Res: 512, Threshold A: 50.0, Threshold B: 200.0, Guidance Start: 0.0, '
            'Guidance End: 1.0, Pixel Perfect: False, Control Mode: Balanced"') in done.infotext


def test_the_memory_check_counts_the_controlnets_weights(tiny_models, tiny_controlnets, tmp_path, monkeypatch):
    import core.engine
    from core.sizes import estimate_peak_bytes
    from tests.models import make_engine

    net = tiny_controlnets["sd1"]
    without_controlnets = estimate_peak_bytes("sd1", 64, 64, 1, False)
    monkeypatch.setattr(core.engine, "total_memory_bytes", lambda: without_controlnets + net.stat().st_size // 2)
    engine = make_engine(tmp_path / "home")
    picture = tmp_path / "edges.png"
    Image.radial_gradient("L").convert("RGB").resize((64, 64)).save(picture)
    events = Recorder()
    unit = ControlUnit(str(net), preprocessor="canny", image=picture)
    engine.generate(tiny_request(tiny_models["sd1"], controlnets=(unit,)), events, output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert "ControlNets" in failed.message and "fewer ControlNet units" in failed.hint
    assert not events.of(ModelLoading)  # refused before anything was loaded
    events = Recorder()
    assert engine.generate(tiny_request(tiny_models["sd1"], steps=1), events, output_dir=tmp_path)


def test_a_controlnet_load_is_announced_like_a_model_load(tiny_models, tiny_controlnets, tmp_path):
    from core.events import ModelReady
    from tests.models import make_engine

    picture = tmp_path / "edges.png"
    Image.radial_gradient("L").convert("RGB").resize((64, 64)).save(picture)
    unit = ControlUnit(str(tiny_controlnets["sd1"]), preprocessor="canny", image=picture)
    _, events = generate(make_engine(tmp_path / "home"), tiny_models["sd1"], tmp_path, [unit], steps=1)
    loading = [event.name for event in events.of(ModelLoading)]
    ready = [event.name for event in events.of(ModelReady)]
    assert len(loading) == 2 and loading[1].startswith(tiny_controlnets["sd1"].stem) and ready[1] == loading[1]
