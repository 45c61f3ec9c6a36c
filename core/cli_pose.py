"""`easel pose render POSE.json OUT.png`: the ControlNet openpose image of a pose file, headless."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from core.errors import EaselError
from core.images import save_png_atomically
from core.pose import PoseDocument, read_pose_file, render


def add_pose_parser(commands: Any) -> None:
    """Register `pose` and its actions on the CLI's subparsers."""
    pose = commands.add_parser("pose", help="OpenPose skeletons for ControlNet")
    actions = pose.add_subparsers(dest="pose_action", metavar="ACTION", required=True)
    draw = actions.add_parser("render", help="write the control image of an OpenPose JSON file as a PNG")
    draw.add_argument("pose", type=Path, help="OpenPose / sd-webui-openpose-editor JSON")
    draw.add_argument("out", type=Path, help="PNG to write")
    draw.add_argument("--width", type=int, help="image width (default: the pose canvas; height follows)")
    draw.add_argument("--height", type=int, help="image height (default: the pose canvas; width follows)")


def run_pose(args: argparse.Namespace, out: TextIO) -> int:
    doc = read_pose_file(args.pose)
    image = render(doc, _output_size(doc, args.width, args.height))
    try:
        save_png_atomically(image, args.out, None, None)
    except OSError as error:
        raise EaselError(f"Could not write {args.out}.", hint=error.strerror or "", details=str(error)) from error
    print(args.out, file=out)
    return 0


def _output_size(doc: PoseDocument, width: int | None, height: int | None) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if value is not None and not 1 <= value <= 16384:
            raise EaselError(f"--{name} {value} is not a usable image size.", hint="Use 1 to 16384 pixels.")
    if width and not height:
        height = max(1, round(doc.height * width / doc.width))
    if height and not width:
        width = max(1, round(doc.width * height / doc.height))
    return width or doc.width, height or doc.height
