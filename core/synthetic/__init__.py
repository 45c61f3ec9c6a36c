"""Random-weight Stable Diffusion models in the real single-file formats, for tests, benchmarks and self-tests."""

from core.synthetic.builders import (
    Components,
    ModelSpec,
    SyntheticModel,
    build_components,
    sd15_spec,
    tiny_spec,
    write_config_dir,
    write_safetensors,
    write_sd15_checkpoint,
    write_tiny_checkpoint,
)
from core.synthetic.controlnet import CONTROLNET_LAYOUTS, tiny_controlnet, write_tiny_controlnet
from core.synthetic.embedding import EMBEDDING_STYLES, tiny_embedding_vectors, write_tiny_embedding
from core.synthetic.ldm_keys import ldm_state_dict
from core.synthetic.lora import LORA_STYLES, tiny_lora_tensors, write_tiny_lora

__all__ = [
    "CONTROLNET_LAYOUTS",
    "Components",
    "EMBEDDING_STYLES",
    "LORA_STYLES",
    "ModelSpec",
    "SyntheticModel",
    "build_components",
    "ldm_state_dict",
    "sd15_spec",
    "tiny_controlnet",
    "tiny_embedding_vectors",
    "tiny_lora_tensors",
    "tiny_spec",
    "write_config_dir",
    "write_tiny_controlnet",
    "write_tiny_embedding",
    "write_tiny_lora",
    "write_safetensors",
    "write_sd15_checkpoint",
    "write_tiny_checkpoint",
]
