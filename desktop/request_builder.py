"""The request the panels describe, for the mode the window is in — or what is missing to make one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.request import GenerationRequest, Mode
from desktop.control_units_panel import ControlUnitsPanel
from desktop.img2img_panel import Img2imgPanel
from desktop.inpaint_panel import InpaintPanel
from desktop.inpaint_workspace import InpaintWorkspace
from desktop.params_panel import ParamsPanel
from desktop.pose_workspace import PoseWorkspace


class MissingInput(Exception):
    """The mode lacks an input; the message says what to do."""


@dataclass
class RequestBuilder:
    params: ParamsPanel
    img2img: Img2imgPanel
    inpaint: InpaintPanel
    inpaint_workspace: InpaintWorkspace
    controlnet: ControlUnitsPanel
    pose_workspace: PoseWorkspace

    def build(self, mode: Mode) -> GenerationRequest:
        """Raises MissingInput when the mode cannot run yet. Hires fix (txt2img only) is dropped in the others."""
        request = self.params.to_request()
        if not request.model:
            raise MissingInput("Choose a model first, or add one with File → Add Model File…")
        if mode is Mode.IMG2IMG:
            request = self._img2img(request)
        elif mode is Mode.INPAINT:
            request = self._inpaint(request)
        return request.replace(controlnets=self.controlnet.units(self.pose_workspace.pose_file, self._drawing))

    def _drawing(self) -> Path:
        drawing = self.inpaint_workspace.drawing_file()
        if drawing is None:
            raise MissingInput("A ControlNet unit uses the drawing on the Inpaint canvas, and there is none: "
                               "File → New Blank Canvas, then paint the scribble (or open an image to draw on).")
        return drawing

    def _img2img(self, request: GenerationRequest) -> GenerationRequest:
        if self.img2img.init_image is None:
            raise MissingInput("Img2img needs an init image: drop one on the panel or choose a file.")
        return request.replace(mode=Mode.IMG2IMG, init_image=self.img2img.init_image, hires=None,
                               denoising_strength=self.img2img.strength, resize_mode=self.img2img.resize_mode)

    def _inpaint(self, request: GenerationRequest) -> GenerationRequest:
        inputs = self.inpaint_workspace.request_inputs()
        if inputs is None:
            raise MissingInput("Open an image on the Inpaint canvas first: File → Open Image, a drop, "
                               "or Send to Inpaint.")
        if self.inpaint_workspace.mask_is_empty() and self.inpaint.outpaint() is None:
            raise MissingInput("Nothing to repaint: paint the area to change, or extend the canvas.")
        image, mask = inputs
        return self.inpaint.apply_to(request.replace(mode=Mode.INPAINT, init_image=image, mask=mask, hires=None))
