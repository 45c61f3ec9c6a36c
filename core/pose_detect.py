"""Detect people's body poses in a photo with the OpenPose body model, for the pose editor.

Runs as ControlNet's openpose annotator does (`annotator/openpose/body.py`): one scale, 0.5 of a
368-pixel box (its `scale_search = [0.5]`; the original OpenPose averaged 0.5, 1, 1.5 and 2), the
image as BGR / 256 - 0.5 padded to a multiple of 8 with grey, the network's maps resized back to
the image with bicubic interpolation. OpenCV is not a dependency: torch's bicubic resize (the same
a = -0.75 kernel, without antialiasing) stands in for cv2.resize.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.downloads import RecommendedModel
from core.errors import ModelFileError
from core.models.safe_load import load_state_dict
from core.openpose_body import BodyJoints, BodyPoseNet, parse_body_maps
from core.pose import ABSENT, Keypoint, Person, PoseDocument

DEFAULT_WEIGHTS_NAME = "body_pose_model.pth"
DOWNLOAD_REPO = "lllyasviel/Annotators"
BOX_SIZE = 368
SCALES = (0.5,)
STRIDE = 8
PAD_VALUE = 128
# The parsing works on maps of the image's full size (57 float channels); a phone photo would take
# gigabytes, and the network only sees a 184-pixel-high copy anyway.
MAX_SIDE = 1024
_MIN_CONFIDENCE = 1e-3  # a detected joint whose raw score is <= 0 must not read as absent
_SEARCH_FOLDERS = ("annotators", "extensions/sd-webui-controlnet/annotator/downloads/openpose")
_NEEDED = (f"Easel needs {DEFAULT_WEIGHTS_NAME} from {DOWNLOAD_REPO} (Hugging Face): "
           "put it in <models>/annotators/ or choose it.")


def detector_download_spec() -> tuple[str, str]:
    """(Hugging Face repo id, file name) for the downloader."""
    return DOWNLOAD_REPO, DEFAULT_WEIGHTS_NAME


def detector_download() -> RecommendedModel:
    """The published weights as the downloader needs them: size and SHA-256 of lllyasviel's file."""
    return RecommendedModel(
        repo_id=DOWNLOAD_REPO, filename=DEFAULT_WEIGHTS_NAME, revision="main",
        sha256="25a948c16078b0f08e236bda51a385d855ef4c153598947c28c0d47ed94bb746", size=209_267_595,
        architecture="openpose-body", title="OpenPose body model (for Detect pose)")


def weights_folder(models_dir: Path) -> Path:
    """Where Easel keeps annotator weights it downloads."""
    return Path(models_dir) / "annotators"


def find_weights(models_dir: Path) -> Path | None:
    """The weights in `models_dir/annotators`, or where A1111's ControlNet extension keeps them.

    `models_dir` may be Easel's models folder or an A1111 install's `models` folder (whose extension
    folder sits beside it) or the install root.
    """
    models_dir = Path(models_dir)
    for base in (models_dir, models_dir.parent):
        for folder in _SEARCH_FOLDERS:
            candidate = base / folder / DEFAULT_WEIGHTS_NAME
            if candidate.is_file():
                return candidate
    return None


def load_body_model(weights: Path | None, device: str = "cpu") -> BodyPoseNet:
    """The network with the weights in `weights`, safely loaded; an EaselError says what is needed."""
    if weights is None or not Path(weights).is_file():
        raise ModelFileError("The pose detector's weights are missing.", _NEEDED,
                             details=str(weights) if weights else "")
    try:
        tensors = load_state_dict(Path(weights))  # refuses pickles that would run code
    except ModelFileError as error:
        raise type(error)(error.message, f"{error.hint} {_NEEDED}".strip(), error.details) from None
    net = BodyPoseNet()
    expected = net.state_dict()
    wrong = [k for k in expected if k not in tensors or tensors[k].shape != expected[k].shape]
    if wrong or len(tensors) != len(expected):
        raise ModelFileError(f"{Path(weights).name} is not the OpenPose body model.", _NEEDED,
                             details=f"{weights}: {len(wrong)} of {len(expected)} tensors missing or of another "
                                     f"shape (first: {wrong[:3]}); {len(tensors)} tensors in the file")
    net.load_state_dict({k: v.float() for k, v in tensors.items()})
    return net.to(device).eval()


def detect_pose(image: Image.Image, weights: Path | None, device: str = "cpu") -> PoseDocument:
    """The people in `image` as a pose document of the image's size, body keypoints only."""
    net = load_body_model(weights, device)
    small = _at_most(image, MAX_SIDE)
    heatmaps, pafs = network_maps(net, small, device)
    return _scaled_to(document_from_maps(heatmaps, pafs), image.width, image.height)


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

