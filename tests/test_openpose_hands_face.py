"""OpenPose hands and faces: the networks in their published shape, the boxes the annotator derives from a
body, its peak finding, and OpenCV's resize and blur as the annotator calls them (without OpenCV)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.opencv_resize import smart_resize
from core.openpose_cpm import CpmNet
from core.openpose_face import FACE_MAPS, face_box, face_maps, face_peaks
from core.openpose_face import PARAMETER_COUNT as FACE_PARAMETERS
from core.openpose_hand import HAND_MAPS, gaussian_blur_8bit, hand_boxes, hand_maps, hand_peaks, label_regions
from core.openpose_hand import PARAMETER_COUNT as HAND_PARAMETERS
from core.pose import ABSENT, BODY_INDEX, Keypoint


def _body(**joints: tuple[float, float]) -> tuple[Keypoint, ...]:
    points = [ABSENT] * 18
    for name, (x, y) in joints.items():
        points[BODY_INDEX[name]] = Keypoint(x, y, 0.9)
    return tuple(points)


# --- the networks ----------------------------------------------------------------------------------

@pytest.mark.parametrize("maps, parameters, stage_input", [(HAND_MAPS, HAND_PARAMETERS, 150),
                                                            (FACE_MAPS, FACE_PARAMETERS, 199)])
def test_the_hand_and_face_networks_have_the_published_names_and_shapes(maps, parameters, stage_input) -> None:
    state = CpmNet(maps).state_dict()
    assert sum(t.numel() for t in state.values()) == parameters
    assert len(state) == 104  # 52 convolutions, weight and bias each
    assert state["conv1_1.weight"].shape == (64, 3, 3, 3)
    assert state["conv4_4.weight"].shape == (512, 512, 3, 3)
    assert state["conv5_3_CPM.weight"].shape == (128, 512, 3, 3)
    assert state["conv6_2_CPM.weight"].shape == (maps, 512, 1, 1)
    assert state["Mconv1_stage2.weight"].shape == (128, stage_input, 7, 7)
    assert state["Mconv7_stage6.bias"].shape == (maps,)
    assert not any(name.startswith("model") for name in state)


@pytest.fixture(scope="module")
def hand_net() -> CpmNet:
    torch.manual_seed(0)
    return CpmNet(HAND_MAPS).eval()


def test_the_network_gives_its_maps_at_stride_8(hand_net: CpmNet) -> None:
    with torch.no_grad():
        maps = hand_net(torch.zeros(1, 3, 24, 40))
    assert maps.shape == (1, 22, 3, 5)


# --- the boxes (util.handDetect, util.faceDetect) ------------------------------------------------------

def _reference_hand_detect(body, width, height):
    """util.handDetect, transcribed: keypoints 5-7 left arm, 2-4 right arm (None: absent)."""
    result = []
    arms = [(body[5], body[6], body[7], True), (body[2], body[3], body[4], False)]
    for shoulder, elbow, wrist, is_left in arms:
        if shoulder is None or elbow is None or wrist is None:
            continue
        (x1, y1), (x2, y2), (x3, y3) = shoulder, elbow, wrist
        x = x3 + 0.33 * (x3 - x2)
        y = y3 + 0.33 * (y3 - y2)
        distance_wrist_elbow = math.sqrt((x3 - x2) ** 2 + (y3 - y2) ** 2)
        distance_elbow_shoulder = math.sqrt((x2 - x1) ** 2 + (y2 - y1) ** 2)
        side = 1.5 * max(distance_wrist_elbow, 0.9 * distance_elbow_shoulder)
        x -= side / 2
        y -= side / 2
        x, y = max(x, 0), max(y, 0)
        width1 = width - x if x + side > width else side
        width2 = height - y if y + side > height else side
        side = min(width1, width2)
        if side >= 20:
            result.append((int(x), int(y), int(side), is_left))
    return result


def _reference_face_detect(body, width, height):
    """util.faceDetect, transcribed: keypoint 0 the nose, 14-17 eyes and ears (None: absent)."""
    head = body[0]
    others = [(body[14], 3.0), (body[15], 3.0), (body[16], 1.5), (body[17], 1.5)]
    if head is None or all(point is None for point, _ in others):
        return None
    half = 0.0
    for point, reach in others:
        if point is not None:
            half = max(half, max(abs(head[0] - point[0]), abs(head[1] - point[1])) * reach)
    x, y = max(head[0] - half, 0), max(head[1] - half, 0)
    width1 = width - x if x + half > width else half * 2
    width2 = height - y if y + half > height else half * 2
    side = min(width1, width2)
    return (int(x), int(y), int(side)) if side >= 20 else None


def test_hand_boxes_by_hand() -> None:
    body = _body(right_shoulder=(100, 100), right_elbow=(100, 140), right_wrist=(100, 180),
                 left_shoulder=(200, 100), left_elbow=(240, 100), left_wrist=(280, 100))
    # Forearms and upper arms 40 px: side 1.5 * 40 = 60 around the wrist pushed 0.33 * 40 further out.
    boxes = hand_boxes(body, 400, 400)
    assert [(b.x, b.y, b.size, b.is_left) for b in boxes] == [(263, 70, 60, True), (70, 163, 60, False)]
    # At the right edge the left hand's box is cut to the image: 300 - 263.2.
    assert [(b.x, b.size) for b in hand_boxes(body, 300, 400) if b.is_left] == [(263, 36)]
    # A missing elbow: no box for that arm; a tiny arm: below 20 px, none either.
    assert [b.is_left for b in hand_boxes(body[:3] + (ABSENT,) + body[4:], 400, 400)] == [True]
    tiny = _body(left_shoulder=(50, 50), left_elbow=(55, 50), left_wrist=(60, 50))
    assert hand_boxes(tiny, 400, 400) == []


def test_face_box_by_hand() -> None:
    body = _body(nose=(100, 100), right_eye=(95, 95), left_eye=(105, 95), right_ear=(90, 100), left_ear=(110, 100))
    # Eyes 5 px off (x3 = 15), ears 10 px (x1.5 = 15): half-side 15 around the nose.
    box = face_box(body, 400, 400)
    assert (box.x, box.y, box.size) == (85, 85, 30)
    # The annotator tests x + half-side (the nose) against the edge, not x + side: near the right edge the
    # side stays 30 and the crop, a slice of the image, comes out 25 wide.
    near_edge = face_box(_body(nose=(290, 100), right_eye=(285, 95)), 300, 400)
    assert (near_edge.x, near_edge.y, near_edge.size) == (275, 85, 30)
    assert face_box(_body(nose=(5, 5), right_eye=(0, 0)), 300, 400).x == 0  # clipped at the left
    assert face_box(_body(nose=(100, 100)), 400, 400) is None  # no eye or ear
    assert face_box(_body(nose=(100, 100), left_ear=(104, 100)), 400, 400) is None  # 12 px: too small


def test_boxes_match_the_annotators_formulas_on_random_bodies() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        width, height = (int(v) for v in rng.integers(60, 500, 2))
        coordinates = [(float(rng.uniform(-20, width + 20)), float(rng.uniform(-20, height + 20)))
                       if rng.random() > 0.2 else None for _ in range(18)]
        body = tuple(ABSENT if c is None else Keypoint(*c, 0.5) for c in coordinates)
        found = [(b.x, b.y, b.size, b.is_left) for b in hand_boxes(body, width, height)]
        assert found == _reference_hand_detect(coordinates, width, height)
        box = face_box(body, width, height)
        assert (None if box is None else (box.x, box.y, box.size)) == _reference_face_detect(coordinates, width, height)


# --- the peaks ---------------------------------------------------------------------------------------------

def _blob(size: int, x: float, y: float, height: float = 1.0, sigma: float = 3.0) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return height * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))


def test_hand_peaks_take_the_heaviest_region_and_scale_to_the_crop() -> None:
    maps = np.zeros((128, 128, 22))
    maps[:, :, 0] = _blob(128, 40, 70, 1.0, sigma=6) + _blob(128, 100, 20, 1.2, sigma=2)  # taller but lighter
    maps[:, :, 3] = _blob(128, 10, 120, 0.5)
    peaks = hand_peaks(maps, 64, 96)  # a 96 x 64 crop
    assert (peaks[0].x, peaks[0].y) == (int(40 * 96 / 128), int(70 * 64 / 128)) == (30, 35)
    assert peaks[0].score == pytest.approx(1.0, abs=0.01)
    assert (peaks[3].x, peaks[3].y) == (7, 60)
    assert peaks[1] is None and len(peaks) == 21  # nothing above 0.05 after smoothing


def test_label_regions_numbers_8_connected_regions_in_raster_order() -> None:
    mask = np.array([[0, 0, 1, 0, 0],
                     [1, 0, 0, 1, 0],
                     [1, 0, 0, 0, 0],
                     [0, 0, 1, 1, 0],
                     [0, 0, 0, 0, 1]], dtype=bool)
    labels, count = label_regions(mask)
    assert count == 3  # the diagonal steps join; skimage.measure.label(connectivity=2) gives the same
    assert labels.tolist() == [[0, 0, 1, 0, 0],
                               [2, 0, 0, 1, 0],
                               [2, 0, 0, 0, 0],
                               [0, 0, 3, 3, 0],
                               [0, 0, 0, 0, 3]]
    assert label_regions(np.zeros((4, 4), bool))[1] == 0


def test_face_peaks_keep_the_70_landmarks_at_their_indices() -> None:
    maps = np.zeros((71, 30, 40))
    maps[5] = _blob(40, 12, 7)[:30]
    maps[69] = _blob(40, 33, 21, 0.04)[:30]  # below 0.05: absent
    maps[70] = 1.0  # the background map is not a landmark
    peaks = face_peaks(maps)
    assert len(peaks) == 70
    assert (peaks[5].x, peaks[5].y) == (12, 7)
    assert peaks[69] is None and peaks[0] is None


def test_the_networks_run_on_crops_at_small_scales(hand_net: CpmNet, monkeypatch) -> None:
    crop = np.random.default_rng(0).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    maps = hand_maps(hand_net, crop, scales=(0.0625, 0.125))  # 23 px (padded to 24) and 46
    assert maps.shape == (128, 128, 22) and np.isfinite(maps).all()
    monkeypatch.setattr("core.openpose_face.INPUT_SIZE", 32)
    assert face_maps(CpmNet(FACE_MAPS).eval(), crop[:, :25]).shape == (71, 30, 25)


# --- OpenCV's resize and blur, as cv2 5.0 (opencv-python-headless) printed them -------------------------------

_SMALL = np.array([[0, 50, 100, 150], [200, 250, 0, 30], [90, 10, 255, 60], [5, 120, 240, 33]], np.uint8)


def test_lanczos4_upscale_is_opencvs_to_the_pixel() -> None:
    assert smart_resize(_SMALL, 6, 7).tolist() == [  # cv2.resize(x, (7, 6), interpolation=cv2.INTER_LANCZOS4)
        [0, 0, 18, 70, 123, 154, 164], [94, 152, 188, 102, 14, 45, 99], [196, 233, 238, 131, 17, 6, 32],
        [138, 72, 35, 139, 218, 128, 29], [37, 0, 12, 182, 255, 155, 23], [0, 33, 125, 225, 221, 99, 6]]
    floats = smart_resize(_SMALL.astype(np.float32) / 255, 5, 6)
    assert floats[0, :3] == pytest.approx([-0.060477, 0.0099, 0.177581], abs=2e-6)
    assert floats[3, 3] == pytest.approx(1.040751, abs=2e-6)


def test_area_downscale_is_opencvs() -> None:
    assert smart_resize(_SMALL, 3, 3).tolist() == [[62, 88, 109], [141, 129, 66], [43, 168, 91]]


def test_gaussian_blur_is_opencvs_fixed_point() -> None:
    delta = np.zeros((9, 9, 3), np.uint8)
    delta[4, 4] = 255
    blurred = gaussian_blur_8bit(delta, 0.8)[:, :, 0]
    assert blurred[4].tolist() == [0, 0, 3, 29, 64, 29, 3, 0, 0]  # cv2.GaussianBlur(delta, (0, 0), 0.8)
    assert blurred[3].tolist() == [0, 0, 1, 13, 29, 13, 1, 0, 0]
