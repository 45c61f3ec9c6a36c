"""Pose detection: the OpenPose body network in its published shape, and the annotator's parsing of its maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from core import pose_detect
from core.errors import EaselError, ModelFileError, UnsafeFileError
from core.openpose_body import LIMB_SEQ, MAP_IDX, PARAMETER_COUNT, BodyPoseNet, gaussian_smooth
from core.openpose_cpm import CpmNet
from core.openpose_face import FACE_MAPS
from core.openpose_hand import HAND_MAPS
from core.openpose_preprocessor import openpose_control_image
from core.pose import BODY_INDEX, PoseDocument
from core.pose_detect import (DEFAULT_WEIGHTS_NAME, DetectorWeights, detect_pose, detector_download_spec,
                              document_from_maps, find_detector_weights, find_weights, missing_files)
from tests.test_openpose_hands_face import _blob, _reference_face_detect, _reference_hand_detect
from tests.test_unsafe_pickles import Payload

# One person's 18 joints (COCO order) relative to a top-centre point; a person stands 165 px tall.
SKELETON = ((0, 20), (0, 40), (-15, 40), (-20, 65), (-22, 88), (15, 40), (20, 65), (22, 88), (-10, 95),
            (-12, 130), (-13, 165), (10, 95), (12, 130), (13, 165), (-4, 16), (4, 16), (-8, 18), (8, 18))


@pytest.fixture(scope="module")
def net() -> BodyPoseNet:
    torch.manual_seed(0)  # 52 M random parameters take a second or two to draw: once per module
    return BodyPoseNet().eval()


@pytest.fixture(scope="module")
def random_weights(net: BodyPoseNet, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / DEFAULT_WEIGHTS_NAME
    torch.save(net.state_dict(), path)
    return path


def test_the_network_has_the_published_names_shapes_and_size(net: BodyPoseNet) -> None:
    state = net.state_dict()
    assert sum(t.numel() for t in state.values()) == PARAMETER_COUNT == 52_311_446
    assert len(state) == 184  # 92 convolutions, weight and bias each
    assert state["conv1_1.weight"].shape == (64, 3, 3, 3)
    assert state["conv4_4_CPM.bias"].shape == (128,)
    assert state["conv5_5_CPM_L1.weight"].shape == (38, 512, 1, 1)
    assert state["conv5_5_CPM_L2.weight"].shape == (19, 512, 1, 1)
    assert state["Mconv1_stage2_L1.weight"].shape == (128, 185, 7, 7)
    assert state["Mconv7_stage6_L2.weight"].shape == (19, 128, 1, 1)
    assert not any(name.startswith("model") for name in state)


def test_the_network_outputs_pafs_and_heatmaps_at_stride_8(net: BodyPoseNet) -> None:
    with torch.no_grad():
        pafs, heatmaps = net(torch.zeros(1, 3, 32, 48))
    assert pafs.shape == (1, 38, 4, 6)
    assert heatmaps.shape == (1, 19, 4, 6)


def test_random_weights_of_the_real_architecture_detect_within_the_image(random_weights: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    doc = detect_pose(Image.fromarray(pixels), random_weights)

    assert isinstance(doc, PoseDocument)
    assert (doc.width, doc.height) == (80, 64)
    for person in doc.people:
        assert len(person.body) == 18
        for keypoint in person.body:
            if keypoint.present:
                assert 0 <= keypoint.x < 80 and 0 <= keypoint.y < 64


def test_detect_pose_puts_the_people_of_the_maps_into_the_document(random_weights: Path, monkeypatch) -> None:
    first = [(60 + dx, 15 + dy) for dx, dy in SKELETON]
    maps = _synthetic_maps([first], 200, 120)
    monkeypatch.setattr("core.pose_detect.network_maps", lambda net, image, device: maps)

    doc = detect_pose(Image.new("RGB", (120, 200)), random_weights)

    assert len(doc.people) == 1
    assert [(k.x, k.y) for k in doc.people[0].body] == [(float(x), float(y)) for x, y in first]


def test_a_large_photo_is_detected_small_and_scaled_back(random_weights: Path, monkeypatch) -> None:
    first = [(60 + dx, 15 + dy) for dx, dy in SKELETON]
    seen = []

    def maps(net, image, device):
        seen.append(image.size)
        return _synthetic_maps([first], 200, 120)

    monkeypatch.setattr("core.pose_detect.network_maps", maps)
    monkeypatch.setattr("core.pose_detect.MAX_SIDE", 200)

    doc = detect_pose(Image.new("RGB", (240, 400)), random_weights)

    assert seen == [(120, 200)]
    assert (doc.width, doc.height) == (240, 400)
    assert [(k.x, k.y) for k in doc.people[0].body] == [(2.0 * x, 2.0 * y) for x, y in first]


def _synthetic_maps(people: list[list[tuple[int, int] | None]], height: int, width: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian peaks of height 1 at the joints, unit PAF vectors within 2 px of each limb."""
    heatmaps = np.zeros((height, width, 19), np.float32)
    pafs = np.zeros((height, width, 38), np.float32)
    ys, xs = np.mgrid[0:height, 0:width]
    for joints in people:
        for part, joint in enumerate(joints):
            if joint is not None:
                heatmaps[:, :, part] += np.exp(-((xs - joint[0]) ** 2 + (ys - joint[1]) ** 2) / (2 * 2.0**2))
        for (a, b), (cx, cy) in zip(LIMB_SEQ, MAP_IDX):
            start, end = joints[a - 1], joints[b - 1]
            if start is None or end is None:
                continue
            near = _distance_to_segment(xs, ys, np.array(start, float), np.array(end, float)) <= 2
            direction = (np.array(end, float) - start) / np.linalg.norm(np.subtract(end, start))
            pafs[near, cx - 19], pafs[near, cy - 19] = direction
    return heatmaps, pafs


def _distance_to_segment(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / ab.dot(ab), 0, 1)
    return np.hypot(xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1]))


def test_parsing_synthetic_maps_recovers_two_people_exactly() -> None:
    first = [(60 + dx, 15 + dy) for dx, dy in SKELETON]
    second = [(180 + dx, 10 + dy) for dx, dy in SKELETON]
    second[BODY_INDEX["left_ear"]] = None
    heatmaps, pafs = _synthetic_maps([first, second], 200, 240)

    doc = document_from_maps(heatmaps, pafs)

    assert (doc.width, doc.height) == (240, 200)
    assert len(doc.people) == 2
    found = sorted(doc.people, key=lambda person: person.body[BODY_INDEX["neck"]].x)
    for person, joints in zip(found, (first, second)):
        for keypoint, joint in zip(person.body, joints):
            if joint is None:
                assert not keypoint.present
                continue
            assert keypoint.present and keypoint.confidence == pytest.approx(1.0, abs=1e-3)
            assert abs(keypoint.x - joint[0]) <= 1 and abs(keypoint.y - joint[1]) <= 1


def test_parsing_drops_a_lone_limb_and_empty_maps() -> None:
    lone = [None] * 18
    lone[1], lone[2] = (50, 50), (35, 50)  # neck and right shoulder only: fewer than 4 joints
    assert document_from_maps(*_synthetic_maps([lone], 100, 100)).people == ()
    assert document_from_maps(np.zeros((40, 40, 19)), np.zeros((40, 40, 38))).people == ()


def test_gaussian_smoothing_keeps_mass_and_symmetry() -> None:
    delta = np.zeros((41, 41, 1))
    delta[20, 20, 0] = 1.0
    smooth = gaussian_smooth(delta)[:, :, 0]
    assert smooth.sum() == pytest.approx(1.0)
    assert np.unravel_index(smooth.argmax(), smooth.shape) == (20, 20)
    np.testing.assert_allclose(smooth, smooth.T)
    np.testing.assert_allclose(smooth, smooth[::-1, ::-1])


@pytest.mark.parametrize("weights", [None, Path("nowhere") / DEFAULT_WEIGHTS_NAME])
def test_missing_weights_say_what_is_needed(weights: Path | None, tmp_path: Path) -> None:
    path = None if weights is None else tmp_path / weights
    with pytest.raises(EaselError) as caught:
        detect_pose(Image.new("RGB", (32, 32)), path)
    text = str(caught.value)
    assert "body_pose_model.pth" in text and "lllyasviel/Annotators" in text and "annotators/" in text


def test_other_weights_are_refused_with_what_is_needed(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"conv1_1.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(EaselError) as caught:
        detect_pose(Image.new("RGB", (32, 32)), path)
    assert "not the weights of the OpenPose body network" in caught.value.message
    assert "lllyasviel/Annotators" in caught.value.hint


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / DEFAULT_WEIGHTS_NAME
    torch.save({"conv1_1.weight": torch.zeros(64, 3, 3, 3), "callback": Payload(marker)}, path)
    with pytest.raises(UnsafeFileError):
        detect_pose(Image.new("RGB", (32, 32)), path)
    assert not marker.exists()


def test_find_weights_in_easel_and_a1111_folders(tmp_path: Path) -> None:
    easel = tmp_path / "easel_models"
    assert find_weights(easel) is None
    (easel / "annotators").mkdir(parents=True)
    (easel / "annotators" / DEFAULT_WEIGHTS_NAME).write_bytes(b"x")
    assert find_weights(easel) == easel / "annotators" / DEFAULT_WEIGHTS_NAME

    webui = tmp_path / "webui"
    folder = webui / "extensions/sd-webui-controlnet/annotator/downloads/openpose"
    folder.mkdir(parents=True)
    (webui / "models").mkdir()
    (folder / DEFAULT_WEIGHTS_NAME).write_bytes(b"x")
    assert find_weights(webui / "models") == folder / DEFAULT_WEIGHTS_NAME
    assert find_weights(webui) == folder / DEFAULT_WEIGHTS_NAME


def test_download_spec_names_the_annotators_file() -> None:
    assert detector_download_spec() == ("lllyasviel/Annotators", "body_pose_model.pth")


# --- hands and faces ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def models_dir(net: BodyPoseNet, tmp_path_factory) -> Path:
    """<models>/annotators with random weights of the three real architectures under their real names
    (float16 to keep the files small; the loader takes any float type)."""
    models = tmp_path_factory.mktemp("easel_models")
    folder = models / "annotators"
    folder.mkdir()
    torch.manual_seed(1)
    for name, model in ((DEFAULT_WEIGHTS_NAME, net), ("hand_pose_model.pth", CpmNet(HAND_MAPS)),
                        ("facenet.pth", CpmNet(FACE_MAPS))):
        torch.save({k: v.half() for k, v in model.state_dict().items()}, folder / name)
    return models


@pytest.fixture
def small_networks(monkeypatch) -> None:
    """The hand network at one 23-pixel scale and the face network at 32 pixels: the code paths, fast."""
    monkeypatch.setattr("core.openpose_hand.SCALES", (0.0625,))
    monkeypatch.setattr("core.openpose_face.INPUT_SIZE", 32)


def _one_person(monkeypatch, height: int = 200, width: int = 120) -> list[tuple[int, int]]:
    person = [(60 + dx, 15 + dy) for dx, dy in SKELETON]
    monkeypatch.setattr("core.pose_detect.network_maps",
                        lambda net, image, device: _synthetic_maps([person], height, width))
    return person


def test_the_weights_are_found_by_their_published_names(models_dir: Path, tmp_path: Path) -> None:
    found = find_detector_weights(models_dir)
    assert [p.name for p in (found.body, found.hand, found.face)] == [
        "body_pose_model.pth", "hand_pose_model.pth", "facenet.pth"]
    assert missing_files(found, hands=True, face=True) == []
    webui = tmp_path / "webui"
    folder = webui / "extensions/sd-webui-controlnet/annotator/downloads/openpose"
    folder.mkdir(parents=True)
    (folder / "hand_pose_model.pth").write_bytes(b"x")
    partial = find_detector_weights(webui / "models")
    assert partial.hand == folder / "hand_pose_model.pth" and partial.body is None and partial.face is None
    assert [f.filename for f in missing_files(partial, hands=True, face=True)] == ["body_pose_model.pth",
                                                                                  "facenet.pth"]
    assert [f.filename for f in missing_files(partial, hands=True, face=False)] == ["body_pose_model.pth"]


def test_random_hand_and_face_weights_load_and_run_on_the_boxes(models_dir: Path, small_networks,
                                                                 monkeypatch) -> None:
    _one_person(monkeypatch)
    pixels = np.random.default_rng(2).integers(0, 256, (200, 120, 3), dtype=np.uint8)
    seen = []
    real_hand_maps = pose_detect.hand_maps
    monkeypatch.setattr("core.pose_detect.hand_maps", lambda net, crop, device: seen.append(crop.shape)
                        or real_hand_maps(net, crop, device))

    doc = detect_pose(Image.fromarray(pixels), find_detector_weights(models_dir), hands=True, face=True)

    assert (doc.width, doc.height) == (120, 200) and len(doc.people) == 1
    assert len(seen) == 2 and all(h == w >= 20 for h, w, _ in seen)  # both arms gave a square box
    person = doc.people[0]
    for points, count in ((person.left_hand, 21), (person.right_hand, 21), (person.face, 70)):
        assert points is None or len(points) == count  # random weights rarely find anything


def test_hand_and_face_keypoints_are_mapped_from_their_crops_into_the_image(models_dir: Path,
                                                                           monkeypatch) -> None:
    skeleton = _one_person(monkeypatch)
    coordinates = [tuple(map(float, p)) for p in skeleton]
    [left_box, right_box] = _reference_hand_detect(coordinates, 120, 200)
    face = _reference_face_detect(coordinates, 120, 200)

    def hand_maps(net, crop, device):  # keypoint 0 at (64, 32) of the 128 x 128 maps, the rest not found
        maps = np.zeros((128, 128, 22))
        maps[:, :, 0] = _blob(128, 64, 32)
        return maps

    def face_maps(net, crop, device):  # landmark 30 at crop pixel (5, 7)
        maps = np.zeros((71, *crop.shape[:2]))
        maps[30, 7, 5] = 0.9
        return maps

    monkeypatch.setattr("core.pose_detect.hand_maps", hand_maps)
    monkeypatch.setattr("core.pose_detect.face_maps", face_maps)
    doc = detect_pose(Image.new("RGB", (120, 200)), find_detector_weights(models_dir), hands=True, face=True)

    person = doc.people[0]
    for hand, (x, y, side, is_left) in ((person.left_hand, left_box), (person.right_hand, right_box)):
        assert is_left is (hand is person.left_hand)
        assert (hand[0].x, hand[0].y) == (x + int(64 * side / 128), y + int(32 * side / 128))
        assert not any(k.present for k in hand[1:])
    x, y, _ = face
    assert (person.face[30].x, person.face[30].y, person.face[30].confidence) == (x + 5, y + 7, pytest.approx(0.9))
    assert sum(k.present for k in person.face) == 1


def test_a_keypoint_at_the_crops_edge_reads_as_not_found_as_in_the_annotator(models_dir: Path, monkeypatch) -> None:
    _one_person(monkeypatch)

    def hand_maps(net, crop, device):
        maps = np.zeros((128, 128, 22))
        maps[:, :, 0] = _blob(128, 0, 60)  # x 0 in the crop: the annotator's np.where(peaks < 1e-6, -1, ...)
        return maps

    monkeypatch.setattr("core.pose_detect.hand_maps", hand_maps)
    doc = detect_pose(Image.new("RGB", (120, 200)), find_detector_weights(models_dir), hands=True)
    assert doc.people[0].left_hand is None and doc.people[0].face is None  # nothing found; no face asked


def test_asking_for_hands_without_their_weights_names_the_file_before_running(models_dir: Path,
                                                                             monkeypatch) -> None:
    def never(*args):
        raise AssertionError("the body network ran")

    monkeypatch.setattr("core.pose_detect.network_maps", never)
    body_only = DetectorWeights(find_detector_weights(models_dir).body)
    with pytest.raises(ModelFileError) as caught:
        detect_pose(Image.new("RGB", (32, 32)), body_only, hands=True)
    assert "hand network" in caught.value.message
    assert "hand_pose_model.pth" in caught.value.hint and "lllyasviel/Annotators" in caught.value.hint
    with pytest.raises(ModelFileError) as caught:
        detect_pose(Image.new("RGB", (32, 32)), body_only, face=True)
    assert "facenet.pth" in caught.value.hint


def test_a_wrong_file_for_the_hand_or_face_is_refused(models_dir: Path) -> None:
    found = find_detector_weights(models_dir)
    swapped = DetectorWeights(found.body, hand=found.face, face=found.hand)
    with pytest.raises(ModelFileError) as caught:
        detect_pose(Image.new("RGB", (32, 32)), swapped, hands=True)
    assert caught.value.message == "facenet.pth is not the weights of the OpenPose hand network (hand_pose_model.pth)."
    assert "hand_pose_model.pth" in caught.value.hint
    with pytest.raises(ModelFileError) as caught:
        detect_pose(Image.new("RGB", (32, 32)), swapped, face=True)
    assert caught.value.message == "hand_pose_model.pth is not the weights of the OpenPose face network (facenet.pth)."


# --- the openpose preprocessors' control image ------------------------------------------------------------

def test_the_control_image_is_the_pictures_size_and_draws_the_hands_found(models_dir: Path, monkeypatch) -> None:
    skeleton = _one_person(monkeypatch, 256, 128)  # the 120 x 200 picture padded to 128 x 256
    coordinates = [tuple(map(float, p)) for p in skeleton]
    [(x, y, side, _), _] = _reference_hand_detect(coordinates, 128, 256)

    def hand_maps(net, crop, device):
        maps = np.zeros((128, 128, 22))
        maps[:, :, 0] = _blob(128, 64, 64)
        return maps

    monkeypatch.setattr("core.pose_detect.hand_maps", hand_maps)
    seen = []
    monkeypatch.setattr("core.openpose_preprocessor.detect_pose",
                        lambda image, *args, **kwargs: seen.append(image.size) or detect_pose(image, *args, **kwargs))
    image = openpose_control_image(Image.new("RGB", (120, 200)), models_dir, hands=True, face=False)

    assert seen == [(128, 256)]  # grown to multiples of 64 with its edge pixels, then cut back
    assert image.mode == "RGB" and image.size == (120, 200)
    centre = (x + int(64 * side / 128), y + int(64 * side / 128))
    assert image.getpixel(centre) == (0, 0, 255)  # the hand keypoint's blue disc, as draw_handpose
    body_only = openpose_control_image(Image.new("RGB", (120, 200)), models_dir, hands=False, face=False)
    assert body_only.getpixel(centre) != (0, 0, 255)


def test_the_control_image_without_hand_weights_says_which_file_and_where(tmp_path: Path,
                                                                          models_dir: Path) -> None:
    models = tmp_path / "models"
    (models / "annotators").mkdir(parents=True)
    (models / "annotators" / DEFAULT_WEIGHTS_NAME).symlink_to(models_dir / "annotators" / DEFAULT_WEIGHTS_NAME)
    with pytest.raises(ModelFileError) as caught:
        openpose_control_image(Image.new("RGB", (64, 64)), models, hands=True, face=False)
    assert "hand_pose_model.pth" in caught.value.message
    assert str(models / "annotators") in caught.value.hint and "Download" in caught.value.hint
