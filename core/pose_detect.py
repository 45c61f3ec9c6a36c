"""Detect people's poses in a photo with the OpenPose networks: bodies, and on request hands and faces.

The body runs as ControlNet's openpose annotator does (`annotator/openpose/body.py`): one scale, 0.5 of a
368-pixel box (its `scale_search = [0.5]`; the original OpenPose averaged 0.5, 1, 1.5 and 2), the
image as BGR / 256 - 0.5 padded to a multiple of 8 with grey, the network's maps resized back to
the image with bicubic interpolation. OpenCV is not a dependency: torch's bicubic resize (the same
a = -0.75 kernel, without antialiasing) stands in for cv2.resize.

Hands and faces, as the annotator's `OpenposeDetector.detect_poses(include_hand, include_face)`: for each
person found, boxes derived from the body keypoints (`core.openpose_hand.hand_boxes`,
`core.openpose_face.face_box`) are cropped from the same BGR image and searched by the hand and face
networks; their keypoints, in crop pixels, are moved by the crop's corner into the image. A keypoint at
crop x or y 0 reads as absent, as in the annotator (`np.where(peaks < 1e-6, -1, ...)`). Each network has
its own weights file; asking for hands or a face without it is an error that names the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.annotator_weights import (BODY_POSE, FACE_POSE, HAND_POSE, AnnotatorFile, annotator_download,
                                    annotators_folder, find_annotator)
from core.annotators.weights import load_published
from core.downloads import RecommendedModel
from core.openpose_body import BodyJoints, BodyPoseNet, parse_body_maps
from core.openpose_cpm import CpmNet, MapPeak
from core.openpose_face import face_box, face_maps, face_peaks, load_face_model
from core.openpose_hand import hand_boxes, hand_maps, hand_peaks, load_hand_model
from core.pose import ABSENT, Keypoint, Part, Person, PoseDocument

DEFAULT_WEIGHTS_NAME = BODY_POSE.filename
DOWNLOAD_REPO = BODY_POSE.repo_id
BOX_SIZE = 368
SCALES = (0.5,)
STRIDE = 8
PAD_VALUE = 128
# The parsing works on maps of the image's full size (57 float channels); a phone photo would take
# gigabytes, and the network only sees a 184-pixel-high copy anyway.
MAX_SIDE = 1024
_MIN_CONFIDENCE = 1e-3  # a detected joint whose raw score is <= 0 must not read as absent
_CROP_ORIGIN = 1e-6  # the annotator's test: a hand or face keypoint at crop x or y 0 is "not found"


@dataclass(frozen=True)
class DetectorWeights:
    """The weights files detection uses: the body's always, the hand's and the face's when asked for."""

    body: Path | None
    hand: Path | None = None
    face: Path | None = None




def find_detector_weights(models_dir: Path) -> DetectorWeights:
    """The body, hand and face weights in <models>/annotators or the A1111 extension's folder (None: not there)."""
    return DetectorWeights(*(find_annotator(file, models_dir) for file in (BODY_POSE, HAND_POSE, FACE_POSE)))


def missing_files(weights: DetectorWeights, hands: bool, face: bool) -> list[AnnotatorFile]:
    """The files detection with these options needs and `weights` lacks, body first."""
    wanted = ((BODY_POSE, weights.body, True), (HAND_POSE, weights.hand, hands), (FACE_POSE, weights.face, face))
    return [file for file, path, asked in wanted if asked and path is None]


def weights_download(file: AnnotatorFile) -> RecommendedModel:
    """`file` for the downloader; the body's through `detector_download`."""
    return detector_download() if file == BODY_POSE else annotator_download(file)


def detector_download_spec() -> tuple[str, str]:
    """(Hugging Face repo id, file name) for the downloader."""
    return DOWNLOAD_REPO, DEFAULT_WEIGHTS_NAME


def detector_download() -> RecommendedModel:
    """The published weights as the downloader needs them: size and SHA-256 of lllyasviel's file."""
    return dataclasses.replace(annotator_download(BODY_POSE), architecture="openpose-body",
                               title="OpenPose body model (for Detect pose)")


def weights_folder(models_dir: Path) -> Path:
    """Where Easel keeps annotator weights it downloads."""
    return annotators_folder(models_dir)


def find_weights(models_dir: Path) -> Path | None:
    """The body weights in `models_dir/annotators`, or where A1111's ControlNet extension keeps them.

    `models_dir` may be Easel's models folder or an A1111 install's `models` folder (whose extension
    folder sits beside it) or the install root.
    """
    return find_annotator(BODY_POSE, models_dir)


def load_body_model(weights: Path | None, device: str = "cpu") -> BodyPoseNet:
    """The network with the weights in `weights`, safely loaded; an EaselError says what is needed."""
    return load_published(BodyPoseNet, weights, BODY_POSE, device)


def detect_pose(image: Image.Image, weights: Path | DetectorWeights | None, device: str = "cpu", *,
                hands: bool = False, face: bool = False) -> PoseDocument:
    """The people in `image` as a pose document of the image's size.

    `weights`: the body weights file, or a DetectorWeights with the hand and face files too. With `hands`
    or `face`, each person gets the hands (21 keypoints each) and the face (70) found in the boxes its body
    gives; a missing or wrong weights file for what was asked is a ModelFileError naming it, raised before
    any network runs.
    """
    files = weights if isinstance(weights, DetectorWeights) else DetectorWeights(weights)
    hand_net = load_hand_model(files.hand, device) if hands else None
    face_net = load_face_model(files.face, device) if face else None
    net = load_body_model(files.body, device)
    small = _at_most(image, MAX_SIDE)
    heatmaps, pafs = network_maps(net, small, device)
    doc = document_from_maps(heatmaps, pafs)
    if hand_net is not None or face_net is not None:
        bgr = np.asarray(small.convert("RGB"))[:, :, ::-1]
        people = tuple(with_hands_and_face(person, bgr, hand_net, face_net, device) for person in doc.people)
        doc = dataclasses.replace(doc, people=people)
    return _scaled_to(doc, image.width, image.height)


def with_hands_and_face(person: Person, bgr: np.ndarray, hand_net: CpmNet | None, face_net: CpmNet | None,
                        device: str = "cpu") -> Person:
    """`person` with the hands and face the networks find in the boxes its body gives (BGR uint8 image)."""
    if hand_net is not None:
        person = _with_hands(person, bgr, hand_net, device)
    if face_net is not None:
        person = _with_face(person, bgr, face_net, device)
    return person


def _with_hands(person: Person, bgr: np.ndarray, net: CpmNet, device: str) -> Person:
    height, width = bgr.shape[:2]
    for box in hand_boxes(person.body, width, height):
        crop = bgr[box.y:box.y + box.size, box.x:box.x + box.size]
        peaks = hand_peaks(hand_maps(net, crop, device), *crop.shape[:2])
        person = person.with_points(Part.LEFT_HAND if box.is_left else Part.RIGHT_HAND, _in_image(peaks, box.x, box.y))
    return person


def _with_face(person: Person, bgr: np.ndarray, net: CpmNet, device: str) -> Person:
    box = face_box(person.body, bgr.shape[1], bgr.shape[0])
    if box is None:
        return person
    crop = bgr[box.y:box.y + box.size, box.x:box.x + box.size]  # the image's edge may cut it short
    return person.with_points(Part.FACE, _in_image(face_peaks(face_maps(net, crop, device)), box.x, box.y))


def _in_image(peaks: Sequence[MapPeak | None], left: int, top: int) -> tuple[Keypoint, ...] | None:
    """Crop-pixel peaks (None: not found) as image keypoints; None when none was found."""
    points = tuple(ABSENT if peak is None or peak.x < _CROP_ORIGIN or peak.y < _CROP_ORIGIN
                   else Keypoint(float(peak.x + left), float(peak.y + top), max(peak.score, _MIN_CONFIDENCE))
                   for peak in peaks)
    return points if any(point.present for point in points) else None


def _at_most(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


def _scaled_to(doc: PoseDocument, width: int, height: int) -> PoseDocument:
    if (doc.width, doc.height) == (width, height):
        return doc
    sx, sy = width / doc.width, height / doc.height
    people = tuple(person.map_points(lambda x, y: (min(x * sx, width - 1), min(y * sy, height - 1)))
                   for person in doc.people)
    return PoseDocument(width, height, people)


def document_from_maps(heatmaps: np.ndarray, pafs: np.ndarray) -> PoseDocument:
    """A pose document from full-size maps, (H, W, 19) heatmaps and (H, W, 38) PAFs."""
    height, width = heatmaps.shape[:2]
    people = tuple(_person(joints) for joints in parse_body_maps(heatmaps, pafs))
    return PoseDocument(width, height, people)


def _person(joints: BodyJoints) -> Person:
    return Person(body=tuple(ABSENT if p is None else Keypoint(float(p.x), float(p.y), max(p.score, _MIN_CONFIDENCE))
                             for p in joints))


def network_maps(net: BodyPoseNet, image: Image.Image, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(heatmaps (H, W, 19), PAFs (H, W, 38)) for the image, averaged over SCALES."""
    bgr = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32)[:, :, ::-1].copy())
    bgr = bgr.permute(2, 0, 1)[None]
    height, width = bgr.shape[2:]
    heat_sum = torch.zeros(1, 19, height, width)
    paf_sum = torch.zeros(1, 38, height, width)
    for scale in SCALES:
        heat, paf = _maps_at_scale(net, bgr, scale * BOX_SIZE / height, device)
        heat_sum += heat / len(SCALES)
        paf_sum += paf / len(SCALES)
    return heat_sum[0].permute(1, 2, 0).numpy(), paf_sum[0].permute(1, 2, 0).numpy()


def _maps_at_scale(net: BodyPoseNet, bgr: torch.Tensor, factor: float, device: str
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = bgr.shape[2:]
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    scaled = F.interpolate(bgr, size=size, mode="bicubic", align_corners=False).clamp(0, 255).round()
    pad_h, pad_w = -size[0] % STRIDE, -size[1] % STRIDE
    padded = F.pad(scaled, (0, pad_w, 0, pad_h), value=PAD_VALUE)
    with torch.no_grad():
        pafs, heatmaps = net((padded / 256 - 0.5).to(device))
    return _back_to_image(heatmaps.float().cpu(), size, (height, width)), _back_to_image(
        pafs.float().cpu(), size, (height, width))


def _back_to_image(maps: torch.Tensor, size: tuple[int, int], image_size: tuple[int, int]) -> torch.Tensor:
    """Upsample by the stride, drop the padding, resize to the image, as the annotator does."""
    full = F.interpolate(maps, scale_factor=STRIDE, mode="bicubic", align_corners=False)
    cropped = full[:, :, :size[0], :size[1]]
    return F.interpolate(cropped, size=image_size, mode="bicubic", align_corners=False)

