"""Prompt editing in A1111 prompts: `[from:to:when]`, `[to:when]`, `[from::when]` and `[a|b]`.

`schedule` gives the same list as A1111's
`get_learned_conditioning_prompt_schedules([prompt], steps)[0]`: each entry is
(last step, prompt text for the steps up to it). Emphasis brackets and
everything else stay in the text verbatim, for `parse_attention` to read.

When a number has a decimal point it is a fraction of the steps, otherwise
an absolute step (A1111's default; `old_scheduling=True` gives its older
rule: below 1 is a fraction). The step is truncated, not rounded, and capped
at `steps`: `[a:b:0.25]` with 10 steps shows `a` for steps 1-2.

A prompt A1111 cannot read at all (a `|` outside `[...]`, a trailing
backslash) is used as written for every step, as A1111 does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.prompts.edit_syntax import Alternation, Edit, Node, read_edits


@dataclass(frozen=True)
class _Timing:
    """How the number in `[a:b:when]` maps to a step, for the base or the hires pass."""

    steps: int
    int_offset: int = 0
    fraction_offset: float = 0.0
    old_rule: bool = False

    def step_of(self, number: str) -> int:
        value = float(number)
        if self.old_rule:
            value = value * self.steps if value < 1 else value
        elif "." in number:
            value = (value - self.fraction_offset) * self.steps
        else:
            value = value - self.int_offset
        if math.isinf(value):  # A1111 overflows on e.g. 1e999; treat it as "never" / "always"
            return self.steps if value > 0 else min(self.steps, 0)
        return min(self.steps, int(value))


def schedule(
    prompt: str, steps: int, *, hires_steps: int | None = None, old_scheduling: bool = False
) -> list[tuple[int, str]]:
    """The prompt's text per sampling step range, as (last step of the range, text) pairs.

    With `hires_steps`, the schedule is for the hires-fix pass: a whole number
    counts on from `steps` (`[a:b:25]` after 20 base steps switches at hires
    step 5) and a fraction spans 1.0-2.0.
    """
    timing = _timing(steps, hires_steps, old_scheduling)
    nodes = read_edits(prompt)
    if nodes is None:
        return [(timing.steps, prompt)]
    ends = sorted(_switch_steps(nodes, timing) | {timing.steps})
    return [(end, _text_at(nodes, end, timing)) for end in ends]


def _timing(steps: int, hires_steps: int | None, old_scheduling: bool) -> _Timing:
    if hires_steps is None or old_scheduling:
        return _Timing(steps, old_rule=old_scheduling)
    return _Timing(hires_steps, int_offset=steps, fraction_offset=1.0)


def _switch_steps(nodes: list[Node], timing: _Timing) -> set[int]:
    found: set[int] = set()
    for node in nodes:
        if isinstance(node, Edit):
            when = timing.step_of(node.when)
            if when >= 1:
                found.add(when)
            found |= _switch_steps(node.before, timing) | _switch_steps(node.after, timing)
        elif isinstance(node, Alternation):
            # Inactive branches count too: A1111 collects steps from the whole prompt.
            found.update(range(1, timing.steps + 1))
            for option in node.options:
                found |= _switch_steps(option, timing)
    return found


def _text_at(nodes: list[Node], step: int, timing: _Timing) -> str:
    return "".join(_node_text(node, step, timing) for node in nodes)


def _node_text(node: Node, step: int, timing: _Timing) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, Edit):
        active = node.before if step <= timing.step_of(node.when) else node.after
        return _text_at(active, step, timing)
    return _text_at(node.options[(step - 1) % len(node.options)], step, timing)
