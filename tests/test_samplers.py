"""A1111 sampler names build the right diffusers schedulers and spend the expected UNet calls."""

from __future__ import annotations

import inspect

import pytest
import torch

from core.errors import RequestError
from core.samplers import (
    SAMPLER_NAMES,
    SCHEDULE_TYPES,
    build_scheduler,
    infotext_sampler_fields,
    parse_sampler_name,
    resolve_schedule,
)

# stable-diffusion-v1-5/scheduler/scheduler_config.json
SD15_CONFIG = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}
# stable-diffusion-2-1 (768, v-prediction)
SD21_V_CONFIG = {**SD15_CONFIG, "_class_name": "DDIMScheduler", "prediction_type": "v_prediction"}

STEPS = 4
# UNet evaluations for STEPS steps. Heun, DPM2 and DPM2 a evaluate twice per step except the
# last, like k-diffusion. PLMS warms up with one extra evaluation, as A1111's PLMS does too.
EXPECTED_CALLS = {name: STEPS for name in SAMPLER_NAMES} | {
    "Heun": 2 * STEPS - 1,
    "DPM2": 2 * STEPS - 1,
    "DPM2 a": 2 * STEPS - 1,
    "PLMS": STEPS + 1,
}


def run_dummy_sampling(scheduler, steps: int) -> tuple[int, torch.Tensor]:
    """Drive the scheduler like a pipeline with a fake UNet; return (UNet calls, final latent)."""
    scheduler.set_timesteps(steps)
    torch.manual_seed(0)
    latents = torch.randn(1, 4, 8, 8) * scheduler.init_noise_sigma
    takes_generator = "generator" in inspect.signature(scheduler.step).parameters
    calls = 0
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(latents, t)
        noise_pred = 0.1 * model_input + 0.05  # fake UNet call
        calls += 1
        extra = {"generator": torch.Generator().manual_seed(1)} if takes_generator else {}
        latents = scheduler.step(noise_pred, t, latents, **extra).prev_sample
    return calls, latents


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
@pytest.mark.parametrize("schedule", SCHEDULE_TYPES)
def test_every_sampler_and_schedule_runs_with_the_expected_unet_calls(sampler: str, schedule: str) -> None:
    scheduler = build_scheduler(sampler, schedule, SD15_CONFIG)
    calls, latents = run_dummy_sampling(scheduler, STEPS)
    assert calls == EXPECTED_CALLS[sampler]
    assert torch.isfinite(latents).all()


def test_plms_does_not_run_pndm_runge_kutta_warmup() -> None:
    """SD1.5's PNDM with PRK steps spends 4 calls on each of its first steps."""
    scheduler = build_scheduler("PLMS", "Automatic", {**SD15_CONFIG, "skip_prk_steps": False})
    calls, _ = run_dummy_sampling(scheduler, 20)
    assert calls == 21


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_model_prediction_type_and_betas_are_kept(sampler: str) -> None:
    scheduler = build_scheduler(sampler, "Karras", SD21_V_CONFIG)
    assert scheduler.config.prediction_type == "v_prediction"
    assert scheduler.config.beta_schedule == "scaled_linear"
    assert scheduler.config.beta_end == pytest.approx(0.012)


@pytest.mark.parametrize(
    ("sampler", "flag"),
    [("DPM++ 2M", "use_karras_sigmas"), ("Euler", "use_karras_sigmas"), ("DPM++ 2M SDE", "use_exponential_sigmas")],
)
def test_automatic_uses_the_a1111_default_schedule(sampler: str, flag: str) -> None:
    assert build_scheduler(sampler, "Automatic", SD15_CONFIG).config[flag] is (sampler != "Euler")


def test_a1111_sampler_choices_map_to_diffusers_algorithms() -> None:
    assert build_scheduler("DPM++ 2M", "Uniform", SD15_CONFIG).config.algorithm_type == "dpmsolver++"
    assert build_scheduler("DPM++ 2M SDE", "Karras", SD15_CONFIG).config.algorithm_type == "sde-dpmsolver++"
    assert type(build_scheduler("Euler a", "Automatic", SD15_CONFIG)).__name__ == "EulerAncestralDiscreteScheduler"
    assert type(build_scheduler("DPM2 a", "Automatic", SD15_CONFIG)).__name__ == "KDPM2AncestralDiscreteScheduler"
    assert build_scheduler("PLMS", "Automatic", SD15_CONFIG).config.skip_prk_steps is True


def test_karras_sigmas_span_the_model_range_like_k_diffusion() -> None:
    sigmas = build_scheduler("Euler", "Karras", SD15_CONFIG)
    sigmas.set_timesteps(10)
    assert float(sigmas.sigmas[0]) == pytest.approx(14.6146, rel=1e-3)  # sigma_max at t=999
    assert float(sigmas.sigmas[-2]) == pytest.approx(0.0292, rel=1e-2)  # sigma_min at t=0
    assert float(sigmas.sigmas[-1]) == 0.0


@pytest.mark.parametrize("schedule", ["Karras", "Exponential"])
def test_euler_a_follows_karras_and_exponential_schedules(schedule: str) -> None:
    euler = build_scheduler("Euler", schedule, SD15_CONFIG)
    euler_a = build_scheduler("Euler a", schedule, SD15_CONFIG)
    euler.set_timesteps(8)
    euler_a.set_timesteps(8)
    assert torch.allclose(euler_a.sigmas, euler.sigmas)
    assert not torch.allclose(euler_a.sigmas, build_uniform_sigmas("Euler a", 8))


def build_uniform_sigmas(sampler: str, steps: int) -> torch.Tensor:
    scheduler = build_scheduler(sampler, "Uniform", SD15_CONFIG)
    scheduler.set_timesteps(steps)
    return scheduler.sigmas


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("DPM++ 2M Karras", ("DPM++ 2M", "Karras")),
        ("DPM++ 2M SDE Karras", ("DPM++ 2M SDE", "Karras")),
        ("dpm++ sde karras", ("DPM++ SDE", "Karras")),
        ("Euler a", ("Euler a", "Automatic")),
        ("euler A", ("Euler a", "Automatic")),
        ("  DPM++   2M  ", ("DPM++ 2M", "Automatic")),
        ("LMS Karras", ("LMS", "Karras")),
        ("DPM2 a Karras", ("DPM2 a", "Karras")),
        ("Euler SGM Uniform", ("Euler", "SGM Uniform")),
        ("k_dpmpp_2m_ka", ("DPM++ 2M", "Karras")),
        ("k_euler_a", ("Euler a", "Automatic")),
    ],
)
def test_old_and_combined_sampler_names_parse(written: str, expected: tuple[str, str]) -> None:
    assert parse_sampler_name(written) == expected


def test_schedule_type_is_case_insensitive_and_accepts_a1111_internal_names() -> None:
    assert parse_sampler_name("Euler", "karras") == ("Euler", "Karras")
    assert parse_sampler_name("Euler", "sgm_uniform") == ("Euler", "SGM Uniform")


def test_unknown_sampler_error_lists_the_valid_names() -> None:
    with pytest.raises(RequestError) as raised:
        parse_sampler_name("DPM adaptive")
    assert "DPM adaptive" in raised.value.message
    assert "DPM++ 2M" in raised.value.hint and "UniPC" in raised.value.hint


def test_unknown_schedule_error_lists_the_valid_types() -> None:
    with pytest.raises(RequestError) as raised:
        build_scheduler("Euler", "Polyexponential", SD15_CONFIG)
    assert "Karras" in raised.value.hint


def test_resolve_schedule_reports_what_runs() -> None:
    assert resolve_schedule("DPM++ 2M", "Automatic") == "Karras"
    assert resolve_schedule("Euler a", "Automatic") == "Uniform"
    assert resolve_schedule("DPM++ 2M", "Exponential") == "Exponential"


def test_infotext_fields_leave_out_automatic_and_split_combined_names() -> None:
    assert infotext_sampler_fields("Euler a", "Automatic") == {"Sampler": "Euler a"}
    assert infotext_sampler_fields("DPM++ 2M Karras") == {"Sampler": "DPM++ 2M", "Schedule type": "Karras"}


def test_a_loaded_pipelines_frozen_scheduler_config_is_accepted() -> None:
    from diffusers import PNDMScheduler

    model_scheduler = PNDMScheduler.from_config({**SD15_CONFIG, "prediction_type": "v_prediction"})
    scheduler = build_scheduler("Euler a", "Karras", model_scheduler.config)
    assert scheduler.config.prediction_type == "v_prediction"
    assert model_scheduler.config.get("use_karras_sigmas") is None  # the model's own scheduler is untouched
