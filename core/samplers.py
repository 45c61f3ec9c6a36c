"""A1111 sampler and schedule-type names, and the diffusers scheduler that runs each.

A1111 (k-diffusion) spaces its sigmas evenly over the training timesteps 999..0, which in
diffusers is `timestep_spacing="linspace"`. Since A1111 1.9 "Automatic" means the sampler's
own default schedule: Karras for DPM++ 2M / SDE / 2S a, Exponential for DPM++ 2M SDE.

Known differences from A1111, all inherent to diffusers 0.42:
- DPM++ 2S a runs diffusers' deterministic single-step DPM-Solver++ (no ancestral noise), and
  DPM++ SDE its stochastic single-step variant instead of k-diffusion's Brownian-tree sampler.
- DPM++ samplers on "Uniform" use diffusers' own even spacing, which stops short of t=0.
- DDIM, PLMS and LCM ignore the schedule type (A1111's DDIM and PLMS ignore it too).
- PLMS spends one extra UNet call on its first step (N+1 calls for N steps), as A1111's does.

diffusers is imported on first `build_scheduler`, so reading names and infotext stays fast.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from core.errors import RequestError

if TYPE_CHECKING:
    from diffusers.schedulers.scheduling_utils import SchedulerMixin

AUTOMATIC = "Automatic"
UNIFORM = "Uniform"
KARRAS = "Karras"
EXPONENTIAL = "Exponential"
SGM_UNIFORM = "SGM Uniform"

SCHEDULE_TYPES: tuple[str, ...] = (AUTOMATIC, UNIFORM, KARRAS, EXPONENTIAL, SGM_UNIFORM)

# A1111's internal scheduler names, which older infotext and the API also use.
_SCHEDULE_ALIASES = {
    "automatic": AUTOMATIC,
    "uniform": UNIFORM,
    "karras": KARRAS,
    "exponential": EXPONENTIAL,
    "sgm uniform": SGM_UNIFORM,
    "sgm_uniform": SGM_UNIFORM,
}


@dataclass(frozen=True)
class SamplerSpec:
    """How one A1111 sampler maps onto a diffusers scheduler class (named, imported late)."""

    name: str
    scheduler_class: str
    overrides: dict[str, Any] = field(default_factory=dict)
    # k-diffusion samplers follow the schedule type; A1111's DDIM/PLMS do not.
    follows_schedule: bool = True
    default_schedule: str = UNIFORM
    aliases: tuple[str, ...] = ()


_DPM_2M = {"algorithm_type": "dpmsolver++", "solver_order": 2, "solver_type": "midpoint"}
_DPM_2S = {"algorithm_type": "dpmsolver++", "solver_order": 2, "lower_order_final": True}

_SPECS: tuple[SamplerSpec, ...] = (
    SamplerSpec("Euler", "EulerDiscreteScheduler", aliases=("k_euler",)),
    SamplerSpec("Euler a", "EulerAncestralDiscreteScheduler", aliases=("k_euler_a", "k_euler_ancestral")),
    SamplerSpec("LMS", "ExactLMSDiscreteScheduler", aliases=("k_lms",)),
    SamplerSpec("Heun", "HeunDiscreteScheduler", aliases=("k_heun",)),
    SamplerSpec("DPM2", "KDPM2DiscreteScheduler", aliases=("k_dpm_2",)),
    SamplerSpec("DPM2 a", "KDPM2AncestralDiscreteScheduler", aliases=("k_dpm_2_a",)),
    SamplerSpec("DPM++ 2M", "DPMSolverMultistepScheduler", _DPM_2M, default_schedule=KARRAS, aliases=("k_dpmpp_2m",)),
    SamplerSpec(
        "DPM++ 2M SDE",
        "DPMSolverMultistepScheduler",
        {**_DPM_2M, "algorithm_type": "sde-dpmsolver++"},
        default_schedule=EXPONENTIAL,
        aliases=("k_dpmpp_2m_sde",),
    ),
    SamplerSpec(
        "DPM++ SDE",
        "DPMSolverSinglestepScheduler",
        {**_DPM_2S, "algorithm_type": "sde-dpmsolver++"},
        default_schedule=KARRAS,
        aliases=("k_dpmpp_sde",),
    ),
    SamplerSpec(
        "DPM++ 2S a", "DPMSolverSinglestepScheduler", _DPM_2S, default_schedule=KARRAS, aliases=("k_dpmpp_2s_a",)
    ),
    # A1111's DDIM never clips x0 and ends on alphas_cumprod[0]; diffusers' defaults differ.
    SamplerSpec("DDIM", "DDIMScheduler", {"clip_sample": False, "set_alpha_to_one": False}, follows_schedule=False),
    # Without skip_prk_steps PNDM spends 4 UNet calls on each of its first 3 steps.
    SamplerSpec("PLMS", "PNDMScheduler", {"skip_prk_steps": True}, follows_schedule=False),
    # A1111's UniPC defaults: order 3, variant bh1, ending on sigma_min (t=0) rather than
    # sigma 0 -- diffusers' bh1 stepping to sigma 0 returns NaN.
    SamplerSpec(
        "UniPC",
        "UniPCMultistepScheduler",
        {"solver_order": 3, "solver_type": "bh1", "final_sigmas_type": "sigma_min"},
    ),
    SamplerSpec("LCM", "LCMScheduler", {"clip_sample": False}, follows_schedule=False, aliases=("k_lcm",)),
)

_SPECS_BY_KEY: dict[str, SamplerSpec] = {spec.name.lower(): spec for spec in _SPECS}
_SPECS_BY_KEY.update({alias: spec for spec in _SPECS for alias in spec.aliases})

SAMPLER_NAMES: tuple[str, ...] = tuple(spec.name for spec in _SPECS)


def _squash(text: str) -> str:
    return " ".join(text.split()).lower()


def _normalise_schedule(schedule: str) -> str:
    found = _SCHEDULE_ALIASES.get(_squash(schedule or AUTOMATIC))
    if found is None:
        raise RequestError(
            f'Unknown schedule type "{schedule}".',
            hint="Choose one of: " + ", ".join(SCHEDULE_TYPES) + ".",
        )
    return found


def _split_combined_name(name: str) -> tuple[str, str | None]:
    """`DPM++ 2M Karras` -> (`dpm++ 2m`, Karras); `k_dpmpp_2m_ka` -> (`k_dpmpp_2m`, Karras)."""
    key = _squash(name)
    if key in _SPECS_BY_KEY:
        return key, None
    if key.endswith("_ka") and key[:-3] in _SPECS_BY_KEY:
        return key[:-3], KARRAS
    for alias, schedule in sorted(_SCHEDULE_ALIASES.items(), key=lambda item: -len(item[0])):
        if key.endswith(" " + alias):
            return key[: -len(alias) - 1], schedule
    return key, None


def parse_sampler_name(name: str, schedule: str = AUTOMATIC) -> tuple[str, str]:
    """Canonical (sampler, schedule type) from any A1111 spelling, case-insensitive.

    A schedule written into an old combined name wins over `schedule`, as in A1111.
    """
    key, schedule_in_name = _split_combined_name(name or "")
    spec = _SPECS_BY_KEY.get(key)
    if spec is None:
        raise RequestError(
            f'Unknown sampler "{name}".',
            hint="Choose one of: " + ", ".join(SAMPLER_NAMES) + ".",
        )
    return spec.name, schedule_in_name or _normalise_schedule(schedule)


def resolve_schedule(sampler: str, schedule: str) -> str:
    """The schedule that actually runs: Automatic becomes the sampler's A1111 default."""
    name, schedule = parse_sampler_name(sampler, schedule)
    return _SPECS_BY_KEY[name.lower()].default_schedule if schedule == AUTOMATIC else schedule


def infotext_sampler_fields(sampler: str, schedule: str = AUTOMATIC) -> dict[str, str]:
    """The `Sampler` and `Schedule type` values A1111 writes; Automatic is left out."""
    name, schedule = parse_sampler_name(sampler, schedule)
    fields = {"Sampler": name}
    if schedule != AUTOMATIC:
        fields["Schedule type"] = schedule
    return fields


def _schedule_overrides(schedule: str) -> dict[str, Any]:
    return {
        "timestep_spacing": "trailing" if schedule == SGM_UNIFORM else "linspace",
        "use_karras_sigmas": schedule == KARRAS,
        "use_exponential_sigmas": schedule == EXPONENTIAL,
        "use_beta_sigmas": False,
    }


def build_scheduler(sampler: str, schedule: str, base_config: Mapping[str, Any]) -> SchedulerMixin:
    """A fresh diffusers scheduler for an A1111 sampler and schedule type.

    `base_config` is the model's own scheduler config; its betas, prediction type and
    training settings are kept, only the sampling algorithm and spacing change.
    """
    name, schedule = parse_sampler_name(sampler, schedule)
    spec = _SPECS_BY_KEY[name.lower()]
    class_name, overrides = spec.scheduler_class, dict(spec.overrides)
    if spec.follows_schedule:
        schedule = resolve_schedule(name, schedule)
        overrides.update(_schedule_overrides(schedule))
    if class_name == "EulerAncestralDiscreteScheduler":
        # diffusers' Euler a has no sigma switches; custom classes stand in for them.
        sigma_classes = {KARRAS: "EulerAncestralKarras", EXPONENTIAL: "EulerAncestralExponential"}
        class_name = sigma_classes.get(schedule, class_name)
        overrides = {"timestep_spacing": overrides.get("timestep_spacing", "linspace")}
    return _scheduler_classes()[class_name].from_config(dict(base_config), **overrides)


@functools.cache
def _scheduler_classes() -> dict[str, type[SchedulerMixin]]:
    """diffusers' scheduler classes by name, plus the few Easel needs beyond them."""
    import diffusers
    import numpy as np
    from diffusers.schedulers.scheduling_lms_discrete import LMSDiscreteScheduler

    class ExactLMSDiscreteScheduler(LMSDiscreteScheduler):
        """LMS integrating its Lagrange polynomial exactly in numpy, where diffusers needs scipy."""

        def get_lms_coefficient(self, order: int, t: int, current_order: int) -> float:
            sigmas = [float(s) for s in self.sigmas]
            basis = np.poly1d([1.0])
            for k in range(order):
                if k != current_order:
                    basis *= np.poly1d([1.0, -sigmas[t - k]]) / (sigmas[t - current_order] - sigmas[t - k])
            antiderivative = basis.integ()
            return float(antiderivative(sigmas[t + 1]) - antiderivative(sigmas[t]))

    class EulerAncestralWithSigmaSchedule(diffusers.EulerAncestralDiscreteScheduler):
        """Euler a on Karras or exponential sigmas; k-diffusion's Euler and Euler a share them."""

        sigma_flag = "use_karras_sigmas"

        def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:  # type: ignore[override]
            super().set_timesteps(num_inference_steps, device)
            euler = diffusers.EulerDiscreteScheduler.from_config(
                self.config, timestep_spacing="linspace", final_sigmas_type="zero", **{self.sigma_flag: True}
            )
            euler.set_timesteps(num_inference_steps, device)
            self.timesteps = euler.timesteps
            self.sigmas = euler.sigmas.to("cpu")

    class EulerAncestralKarras(EulerAncestralWithSigmaSchedule):
        sigma_flag = "use_karras_sigmas"

    class EulerAncestralExponential(EulerAncestralWithSigmaSchedule):
        sigma_flag = "use_exponential_sigmas"

    custom = (ExactLMSDiscreteScheduler, EulerAncestralKarras, EulerAncestralExponential)
    classes = {cls.__name__: cls for cls in custom}
    for spec in _SPECS:
        if spec.scheduler_class not in classes:
            classes[spec.scheduler_class] = getattr(diffusers, spec.scheduler_class)
    return classes
