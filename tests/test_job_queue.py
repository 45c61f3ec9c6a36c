"""The generation queue: order, editing, and surviving a restart (or a damaged file)."""

from __future__ import annotations

import json
from pathlib import Path

from core.job_queue import JobQueue
from core.request import GenerationRequest, Mode


def request(prompt: str, **changes) -> GenerationRequest:  # type: ignore[no-untyped-def]
    return GenerationRequest(model="dreamshaper_8", prompt=prompt, **changes)


def prompts(queue: JobQueue) -> list[str]:
    return [job.request.prompt for job in queue.jobs()]


def test_jobs_run_in_the_order_added_and_each_is_taken_once(tmp_path: Path) -> None:
    queue = JobQueue(tmp_path / "queue.json")
    first, second = queue.add(request("a fox")), queue.add(request("a hare"))
    assert first.id != second.id and len(queue) == 2
    assert queue.take_next() == first
    assert queue.take_next() == second
    assert queue.take_next() is None and len(queue) == 0


def test_remove_and_move_reorder_what_runs_next(tmp_path: Path) -> None:
    queue = JobQueue(tmp_path / "queue.json")
    jobs = [queue.add(request(name)) for name in ("a", "b", "c", "d")]
    queue.move(jobs[3].id, 0)
    assert prompts(queue) == ["d", "a", "b", "c"]
    queue.move(jobs[0].id, 99)  # past the end: last
    assert prompts(queue) == ["d", "b", "c", "a"]
    queue.remove(jobs[1].id)
    queue.remove("not-a-job")  # e.g. already taken by the worker
    assert prompts(queue) == ["d", "c", "a"]
    assert queue.take_next().request.prompt == "d"


def test_the_queue_survives_a_restart_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    queue = JobQueue(path)
    img2img = request("oil painting", mode=Mode.IMG2IMG, init_image=tmp_path / "photo.png", denoising_strength=0.6,
                      model_config=tmp_path / "config", seed=618633303, cfg_scale=6.5, vae="sdxl-vae.safetensors")
    queue.add(request("a fox"))
    queue.add(img2img)
    queue.take_next()

    reopened = JobQueue(path)
    assert reopened.jobs() == queue.jobs()
    assert reopened.jobs()[0].request == img2img
    assert isinstance(reopened.jobs()[0].request.init_image, Path)


def test_observers_hear_of_every_change_after_it_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    queue = JobQueue(path)
    seen: list[int] = []
    queue.subscribe(lambda: seen.append(len(json.loads(path.read_text())["jobs"])))
    job = queue.add(request("a"))
    queue.add(request("b"))
    queue.move(job.id, 1)
    queue.remove(job.id)
    queue.take_next()
    assert seen == [1, 2, 2, 1, 0]


def test_a_damaged_queue_file_is_kept_aside_and_the_queue_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    path.write_text('{"version": 1, "jobs": [{"id": "x", "requ', encoding="utf-8")
    queue = JobQueue(path)
    assert len(queue) == 0
    kept = list(tmp_path.glob("queue.broken-*.json"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8").startswith('{"version": 1')
    queue.add(request("a fox"))
    assert prompts(JobQueue(path)) == ["a fox"]


def test_an_unwritable_queue_keeps_working_in_memory_and_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    queue = JobQueue(blocker / "queue.json")
    queue.add(request("a fox"))
    assert prompts(queue) == ["a fox"]
    assert queue.save_error is not None and "could not be saved" in queue.save_error
