"""The annotator networks behind the weighted preprocessors: the published files' layouts load, other files are
refused with a message, each preprocessor makes an RGB map of the picture's size, missing weights say what to do,
and a generation runs a preprocessor's network end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core.annotator_weights import (BODY_POSE, DEPTH_ANYTHING_V2_SMALL, EXTENSION_DOWNLOADS, HED, LINEART_COARSE,
                                    LINEART_REALISTIC, NORMAL_BAE, annotator_download, annotators_folder,
                                    find_annotator)
from core.annotators.session import AnnotatorSession
from core.errors import EaselError, ModelFileError, UnsafeFileError
from core.images import read_png_text
from core.preprocessors import canonical_preprocessor, run_preprocessor
from core.synthetic.annotators import random_annotator_state, write_annotator


def photo(width: int = 96, height: int = 64) -> Image.Image:
    """A bright square and a dark disc on a grey gradient: edges, lines and shapes for every network."""
    ramp = np.linspace(60, 200, width, dtype=np.uint8)
    image = Image.fromarray(np.repeat(np.tile(ramp, (height, 1))[:, :, None], 3, axis=2), "RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 40, 40), fill=(250, 240, 230))
    draw.ellipse((50, 20, 85, 55), fill=(20, 30, 60))
    return image


@pytest.fixture(scope="module")
def light_weights(tmp_path_factory):
    """HED and both line art files with random weights, in an Easel models folder."""
    models = tmp_path_factory.mktemp("models")
    for seed, file in enumerate((HED, LINEART_REALISTIC, LINEART_COARSE)):
        write_annotator(models, file, seed=seed)
    return models


def _rgb_of_size(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    assert image.mode == "RGB" and image.size == size
    pixels = np.asarray(image)
    assert pixels.dtype == np.uint8
    return pixels


@pytest.mark.parametrize("name", ["softedge", "softedge_hedsafe", "lineart", "lineart_coarse"])
def test_the_light_networks_make_an_rgb_map_of_the_picture(light_weights, name):
    session = AnnotatorSession([light_weights])
    pixels = _rgb_of_size(run_preprocessor(name, photo(), resolution=64, annotators=session), (96, 64))
    assert (pixels[:, :, 0] == pixels[:, :, 1]).all() and (pixels[:, :, 1] == pixels[:, :, 2]).all()  # grey
    if name == "softedge_hedsafe":  # safe_step leaves three levels
        assert set(np.unique(pixels)) <= {0, 127, 255}
    again = np.asarray(run_preprocessor(name, photo(), resolution=64, annotators=session))
    assert (again == pixels).all()


def test_the_processor_resolution_sets_the_map_size(light_weights):
    session = AnnotatorSession([light_weights])
    assert run_preprocessor("softedge", photo(), resolution=32, annotators=session).size == (48, 32)


def test_the_line_art_map_is_the_network_output_inverted(light_weights):
    from core.annotators.lineart import LineartGenerator, line_art

    state = random_annotator_state(LINEART_REALISTIC)
    net = LineartGenerator().eval()
    net.load_state_dict(state)
    rgb = np.asarray(photo(64, 64))
    with torch.no_grad():
        raw = net(torch.from_numpy(rgb.copy()).float().div(255).permute(2, 0, 1)[None])[0, 0].numpy()
    assert (line_art(net, rgb) == 255 - (raw * 255).clip(0, 255).astype(np.uint8)).all()


def test_the_hed_network_averages_its_five_maps_through_a_sigmoid():
    from core.annotators.hed import ControlNetHED, hed_edges

    net = ControlNetHED().eval()
    with torch.no_grad():
        for block in (net.block1, net.block2, net.block3, net.block4, net.block5):
            block.projection.weight.zero_()
            block.projection.bias.fill_(2.0)  # every map 2 everywhere: sigmoid(2) = 0.881
    edges = hed_edges(net, np.asarray(photo(64, 64)))
    assert edges.shape == (64, 64) and (edges == int(255 / (1 + np.exp(-2.0)))).all()


def test_loading_refuses_another_file_and_a_code_running_pickle(tmp_path):
    session = AnnotatorSession([tmp_path])
    folder = annotators_folder(tmp_path)
    folder.mkdir(parents=True)
    torch.save(random_annotator_state(LINEART_REALISTIC), folder / HED.filename)  # line art under HED's name
    with pytest.raises(ModelFileError) as raised:
        run_preprocessor("softedge", photo(), resolution=64, annotators=session)
    assert "ControlNetHED.pth" in raised.value.message and "HED" in raised.value.message
    assert "huggingface.co/lllyasviel/Annotators" in raised.value.hint

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("this must never run",))

    torch.save({"model": Payload()}, folder / HED.filename)
    with pytest.raises(UnsafeFileError):
        run_preprocessor("softedge", photo(), resolution=64, annotators=AnnotatorSession([tmp_path]))


@pytest.mark.parametrize("name, file", [("softedge", "ControlNetHED.pth"), ("lineart", "sk_model.pth"),
                                        ("lineart_coarse", "sk_model2.pth"), ("normal", "scannet.pt"),
                                        ("depth", "model.safetensors")])
def test_missing_weights_name_the_file_the_folder_and_the_download(tmp_path, name, file):
    with pytest.raises(ModelFileError) as raised:
        run_preprocessor(name, photo(), resolution=64, annotators=AnnotatorSession([tmp_path]))
    error = raised.value
    assert file in error.message
    assert str(tmp_path / "annotators") in error.hint and "Download" in error.hint
    assert "huggingface.co/" in error.hint


def test_midas_is_refused_honestly():
    with pytest.raises(EaselError) as raised:
        run_preprocessor("depth_midas", photo())
    assert "MiDaS" in raised.value.message and "pre=depth" in raised.value.message
    assert canonical_preprocessor("depth_anything_v2") == "depth"
    assert canonical_preprocessor("softedge_hed") == "softedge"
    assert canonical_preprocessor("openpose_full") == "openpose_full"


def test_weights_are_found_where_the_a1111_extension_keeps_them(tmp_path):
    a1111 = tmp_path / "stable-diffusion-webui"
    (a1111 / "models").mkdir(parents=True)
    kept = a1111 / EXTENSION_DOWNLOADS / "lineart" / "sk_model.pth"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"x")
    assert find_annotator(LINEART_REALISTIC, a1111 / "models") == kept  # the models folder
    assert find_annotator(LINEART_REALISTIC, a1111) == kept  # or the install root
    assert find_annotator(HED, a1111) is None
    mine = annotators_folder(tmp_path / "easel") / "sk_model.pth"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"y")
    assert AnnotatorSession([tmp_path / "easel", a1111 / "models"]).path(LINEART_REALISTIC) == mine


def test_the_download_of_an_annotator_names_the_published_file():
    body = annotator_download(BODY_POSE)
    assert (body.repo_id, body.filename, body.size) == ("lllyasviel/Annotators", "body_pose_model.pth", 209_267_595)
    depth = annotator_download(DEPTH_ANYTHING_V2_SMALL)
    assert (depth.repo_id, depth.filename, depth.sha256) == (
        "depth-anything/Depth-Anything-V2-Small-hf", "model.safetensors", None)


def test_normal_bae_loads_the_published_layout_and_maps_normals(tmp_path):
    path = write_annotator(tmp_path, NORMAL_BAE, seed=3, dtype=torch.float16)
    assert set(torch.load(path, weights_only=True)) == {"model"}  # {"model": {"module.encoder...": ...}}
    pixels = _rgb_of_size(run_preprocessor("normal", photo(64, 64), resolution=64,
                                           annotators=AnnotatorSession([tmp_path])), (64, 64))
    normals = pixels.astype(np.float64) / 255 * 2 - 1
    lengths = np.linalg.norm(normals, axis=2)
    assert np.allclose(lengths, 1, atol=0.03)  # unit normals, each component mapped -1..1 -> 0..255


def test_depth_anything_loads_the_hub_safetensors_and_refuses_another_file(tmp_path):
    from safetensors.torch import load_file, save_file

    from core.annotators.depth import load_depth_anything

    path = write_annotator(tmp_path, DEPTH_ANYTHING_V2_SMALL, seed=4, dtype=torch.float16)
    assert path == tmp_path / "annotators" / "depth-anything-v2-small" / "model.safetensors"
    stored = load_file(path)
    assert "backbone.encoder.layer.0.attention.attention.query.weight" in stored  # as the hub file has it
    net = AnnotatorSession([tmp_path]).loaded(DEPTH_ANYTHING_V2_SMALL, load_depth_anything)
    assert sum(p.numel() for p in net.parameters()) == 24_785_089  # Depth Anything V2 Small: 24.8M
    assert torch.equal(net.state_dict()["head.conv3.weight"], stored["head.conv3.weight"].float())

    save_file({"head.conv3.weight": torch.zeros(1, 32, 1, 1)}, path)
    with pytest.raises(ModelFileError, match="not the weights of Depth Anything V2 Small"):
        load_depth_anything(path)
    torch.save(random_annotator_state(HED), path)
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        load_depth_anything(path)


def test_depth_is_stretched_to_0_255_at_the_picture_size():
    # The real network at its 518-pixel input takes seconds; the pre- and post-processing are the same on a
    # narrow one of the same kind.
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    from core.annotators.depth import depth_map

    backbone = Dinov2Config(hidden_size=32, num_attention_heads=2, num_hidden_layers=4, image_size=518,
                            patch_size=14, out_indices=[1, 2, 3, 4], reshape_hidden_states=False)
    torch.manual_seed(0)
    net = DepthAnythingForDepthEstimation(DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16, head_hidden_size=8, patch_size=14)).eval()
    depth = depth_map(net, np.asarray(photo(96, 64)))
    assert depth.shape == (64, 96) and depth.dtype == np.uint8
    assert depth.min() == 0 and depth.max() == 255


def test_network_input_size_follows_the_extension():
    from core.annotators.depth import network_size

    assert network_size(512, 512) == (518, 518)
    assert network_size(512, 768) == (518, 784)  # 518 * 1.5 = 777 -> 784, the multiple of 14 above
    assert network_size(1024, 512) == (1036, 518)


def test_easel_generate_runs_the_line_art_network_once_its_weights_are_there(easel_home, tiny_models,
                                                                             tiny_controlnets, tmp_path):
    from core.paths import AppPaths
    from tests.test_controlnet_request import generate_args, run

    photo().save(tmp_path / "photo.png")
    spec = f"type=lineart,model={tiny_controlnets['sd1']},image={tmp_path / 'photo.png'},pre=lineart,res=64"
    args = generate_args(tiny_models["sd1"], tmp_path / "out", "--control", spec)
    models = AppPaths(easel_home).models_dir

    code, _, err = run(*args)
    assert code != 0 and "sk_model.pth" in err and str(models / "annotators") in err

    write_annotator(models, LINEART_REALISTIC, seed=5)
    code, out, err = run(*args)
    assert code == 0, err
    assert "Module: lineart_realistic" in read_png_text(Path(out.strip()))["parameters"]


def test_the_session_loads_each_network_once(light_weights, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(light_weights, models)
    session = AnnotatorSession([models])
    run_preprocessor("softedge", photo(), resolution=64, annotators=session)
    (annotators_folder(models) / HED.filename).unlink()  # a second unit needs no file any more
    run_preprocessor("softedge", photo(), resolution=64, annotators=session)


def test_the_engine_looks_in_easels_models_folder_first_then_an_a1111_install(tmp_path):
    from core.control_units import annotator_models_dirs
    from core.model_resolution import ModelResolver
    from core.paths import AppPaths
    from core.settings import Settings

    webui = tmp_path / "stable-diffusion-webui"
    (webui / "models" / "Stable-diffusion").mkdir(parents=True)
    paths = AppPaths(tmp_path / "home").ensure()
    resolver = ModelResolver.from_settings(paths, Settings(install_roots=[str(webui)]))
    folders = annotator_models_dirs(resolver)
    assert folders[0] == paths.models_dir and webui / "models" in folders
    kept = webui / EXTENSION_DOWNLOADS / "hed" / "ControlNetHED.pth"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"x")
    assert AnnotatorSession(folders).path(HED) == kept


def test_the_openpose_preprocessors_run_the_detector_in_the_folder_with_the_body_model(tmp_path):
    from core.openpose_body import BodyPoseNet

    folder = annotators_folder(tmp_path / "models")
    folder.mkdir(parents=True)
    torch.save({k: v.half() for k, v in BodyPoseNet().state_dict().items()}, folder / BODY_POSE.filename)
    session = AnnotatorSession([tmp_path / "elsewhere", tmp_path / "models"])
    drawn = _rgb_of_size(run_preprocessor("openpose", Image.new("RGB", (96, 64), (120, 90, 60)), resolution=64,
                                          annotators=session), (96, 64))
    assert drawn.max() == 0  # a plain picture: nobody found, a black control image
    with pytest.raises(ModelFileError) as raised:
        run_preprocessor("openpose_hand", photo(), resolution=64, annotators=session)
    assert "hand_pose_model.pth" in raised.value.message and str(folder) in raised.value.hint
