"""A1111 prompt syntax as pure functions: emphasis, prompt editing, AND, and LoRA tags.

The order A1111 applies them, which callers should follow:
`extract_lora_tags` on the whole prompt, then `split_and`, then `schedule`
for each sub-prompt, then `parse_attention` on each scheduled text.
"""

from core.prompts.attention import BREAK, parse_attention
from core.prompts.composition import split_and
from core.prompts.lora_tags import LoraTag, extract_lora_tags
from core.prompts.scheduling import schedule

__all__ = ["BREAK", "LoraTag", "extract_lora_tags", "parse_attention", "schedule", "split_and"]
