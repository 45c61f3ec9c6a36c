"""Other tools' sampler and scheduler names as A1111 sampler + schedule type."""

from __future__ import annotations

from typing import Any, Mapping

# ComfyUI's KSampler names (Fooocus uses the same ones).
COMFY_SAMPLERS = {
    "euler": "Euler",
    "euler_ancestral": "Euler a",
    "heun": "Heun",
    "dpm_2": "DPM2",
    "dpm_2_ancestral": "DPM2 a",
    "lms": "LMS",
    "dpmpp_2s_ancestral": "DPM++ 2S a",
    "dpmpp_sde": "DPM++ SDE",
    "dpmpp_sde_gpu": "DPM++ SDE",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpmpp_2m_sde_gpu": "DPM++ 2M SDE",
    "ddim": "DDIM",
    "uni_pc": "UniPC",
    "lcm": "LCM",
}
# ComfyUI's "normal" spaces sigmas evenly like A1111's Uniform; "simple", "beta"... have no A1111 twin.
COMFY_SCHEDULERS = {"normal": "Uniform", "karras": "Karras", "exponential": "Exponential", "sgm_uniform": "SGM Uniform"}

# InvokeAI's diffusers scheduler names; a `_k` suffix means Karras sigmas.
INVOKEAI_SAMPLERS = {
    "ddim": "DDIM",
    "pndm": "PLMS",
    "lms": "LMS",
    "heun": "Heun",
    "euler": "Euler",
    "euler_a": "Euler a",
    "kdpm_2": "DPM2",
    "kdpm_2_a": "DPM2 a",
    "dpmpp_2s": "DPM++ 2S a",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpmpp_sde": "DPM++ SDE",
    "unipc": "UniPC",
    "lcm": "LCM",
}

NOVELAI_SAMPLERS = {
    "k_euler": "Euler",
    "k_euler_ancestral": "Euler a",
    "k_lms": "LMS",
    "k_heun": "Heun",
    "k_dpm_2": "DPM2",
    "k_dpm_2_ancestral": "DPM2 a",
    "k_dpmpp_2s_ancestral": "DPM++ 2S a",
    "k_dpmpp_2m": "DPM++ 2M",
    "k_dpmpp_sde": "DPM++ SDE",
    "k_dpmpp_2m_sde": "DPM++ 2M SDE",
    "ddim": "DDIM",
    "ddim_v3": "DDIM",
}
NOVELAI_SCHEDULES = {"native": "Uniform", "karras": "Karras", "exponential": "Exponential"}


def map_sampler(
    sampler: Any, schedule: Any, samplers: Mapping[str, str], schedules: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, Any]]:
    """(`sampler`/`schedule` request fields, what had no A1111 name) for one tool's names."""
    fields: dict[str, str] = {}
    unmapped: dict[str, Any] = {}
    name = samplers.get(str(sampler)) if sampler is not None else None
    if name:
        fields["sampler"] = name
    elif sampler is not None:
        unmapped["sampler"] = sampler
    mapped_schedule = schedules.get(str(schedule)) if schedule is not None else None
    if name and mapped_schedule:
        fields["schedule"] = mapped_schedule
    elif schedule is not None:
        unmapped["scheduler"] = schedule
    return fields, unmapped


def map_invokeai_scheduler(scheduler: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """`dpmpp_2m_k` -> DPM++ 2M + Karras; plain names ran diffusers' default (uniform) spacing."""
    if not isinstance(scheduler, str):
        return {}, ({} if scheduler is None else {"scheduler": scheduler})
    base, karras = (scheduler[:-2], True) if scheduler.endswith("_k") else (scheduler, False)
    name = INVOKEAI_SAMPLERS.get(base)
    if name is None:
        return {}, {"scheduler": scheduler}
    return {"sampler": name, "schedule": "Karras" if karras else "Uniform"}, {}
