"""What each model family needs: pipeline classes, shipped config folder, tokenizer padding."""

from __future__ import annotations

from dataclasses import dataclass

from core.request import Mode

ENDOFTEXT = "<|endoftext|>"
BANG = "!"


@dataclass(frozen=True)
class Family:
    name: str  # sd1, sd2, sdxl, sdxl-refiner
    preview_family: str  # which latent space: sd1 covers SD1.x and SD2.x
    txt2img: str | None
    img2img: str
    inpaint: str | None
    tokenizer_pads: dict[str, str]  # pipeline component name -> pad token

    def pipeline_class_name(self, mode: Mode, inpaint_checkpoint: bool) -> str:
        if (inpaint_checkpoint or mode is Mode.INPAINT) and self.inpaint:
            return self.inpaint  # on inpaint checkpoints txt2img and img2img run as inpainting with a full mask
        if mode is Mode.INPAINT:
            from core.errors import RequestError

            raise RequestError(f"{self.name} models cannot inpaint.",
                               hint="Inpaint with an SDXL base or inpainting model, then refine in img2img.")
        if mode is Mode.IMG2IMG:
            return self.img2img
        if self.txt2img is None:
            from core.errors import RequestError

            raise RequestError(
                f"{self.name} models cannot generate from a prompt alone.",
                hint="Use them in img2img on an image made by an SDXL base model.",
            )
        return self.txt2img


FAMILIES = {
    "sd1": Family(
        "sd1", "sd1", "StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline",
        "StableDiffusionInpaintPipeline", {"tokenizer": ENDOFTEXT},
    ),
    "sd2": Family(
        "sd2", "sd1", "StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline",
        "StableDiffusionInpaintPipeline", {"tokenizer": BANG},
    ),
    "sdxl": Family(
        "sdxl", "sdxl", "StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline",
        "StableDiffusionXLInpaintPipeline", {"tokenizer": ENDOFTEXT, "tokenizer_2": BANG},
    ),
    "sdxl-refiner": Family(
        "sdxl-refiner", "sdxl", None, "StableDiffusionXLImg2ImgPipeline", None, {"tokenizer_2": BANG},
    ),
}


def family_of(architecture: str) -> Family:
    """`sd2-v` shares everything with `sd2` except the prediction type, which its config carries."""
    key = "sd2" if architecture == "sd2-v" else architecture
    return FAMILIES[key]


def shipped_config_name(architecture: str, inpaint: bool) -> str:
    if inpaint:
        base = "sd2" if architecture.startswith("sd2") else architecture
        return f"{base}-inpaint"
    return architecture
