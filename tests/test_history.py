"""The gallery's history: every saved image recorded, newest first, searchable, filterable, deletable."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from core.history import History, HistoryEntry
from core.images import save_png_atomically
from core.infotext import infotext_for_request
from core.request import GenerationRequest


@pytest.fixture
def history(tmp_path: Path):
    opened = History.open(tmp_path / "history.sqlite3")
    yield opened
    opened.close()


def save_generation(
    folder: Path,
    name: str,
    prompt: str,
    model: str = "dreamshaper_8",
    seed: int = 1234,
    size: tuple[int, int] = (64, 48),
    color: tuple[int, int, int] = (200, 30, 40),
) -> tuple[Path, Image.Image, str, dict]:
    """A PNG written the way the engine writes one: infotext plus the full request."""
    request = GenerationRequest(model=f"{model}.safetensors", prompt=prompt, negative_prompt="blurry", seed=seed,
                                width=size[0], height=size[1])
    infotext = infotext_for_request(request, seed, model, "7c6bad76eb")
    image = Image.new("RGB", size, color)
    folder.mkdir(parents=True, exist_ok=True)
    path = save_png_atomically(image, folder / name, infotext, request.to_json_dict())
    return path, image, infotext, request.to_json_dict()


def record(history: History, folder: Path, name: str, prompt: str, created: float, **kwargs) -> HistoryEntry:
    path, image, infotext, request = save_generation(folder, name, prompt, **kwargs)
    model = kwargs.get("model", "dreamshaper_8")
    return history.record(path, image, infotext, request, model, "7c6bad76eb", created=created)


def prompts(entries: list[HistoryEntry]) -> list[str]:
    return [entry.prompt for entry in entries]


def test_recorded_image_comes_back_with_settings_thumbnail_and_after_reopening(history, tmp_path):
    path, image, infotext, request = save_generation(tmp_path / "out", "00000-1234.png", "a lighthouse",
                                                     size=(512, 768))
    entry = history.record(path, image, infotext, request, "dreamshaper_8", "7c6bad76eb", created=1000.0)

    assert (entry.path, entry.prompt, entry.negative_prompt, entry.seed) == (path, "a lighthouse", "blurry", 1234)
    assert (entry.width, entry.height, entry.model_name, entry.model_hash) == (512, 768, "dreamshaper_8", "7c6bad76eb")
    assert entry.infotext == infotext and entry.created == 1000.0
    assert GenerationRequest.from_json_dict(entry.request) == GenerationRequest.from_json_dict(request)
    assert history.get(entry.id) == entry and history.page(0, 10) == [entry]
    with Image.open(io.BytesIO(history.thumbnail(entry.id))) as thumbnail:
        assert thumbnail.size == (171, 256)
        assert thumbnail.convert("RGB").getpixel((80, 120)) == pytest.approx((200, 30, 40), abs=3)

    history.close()
    reopened = History.open(tmp_path / "history.sqlite3")
    assert reopened.notice is None and reopened.page(0, 10) == [entry]
    reopened.close()


def test_pages_are_newest_first_and_sliced(history, tmp_path):
    for number, created in enumerate([300.0, 100.0, 500.0, 200.0, 400.0]):
        record(history, tmp_path, f"{number:05}.png", f"image made at {created:.0f}", created)

    assert history.count() == 5
    assert prompts(history.page(0, 10)) == [f"image made at {t}" for t in (500, 400, 300, 200, 100)]
    assert prompts(history.page(1, 2)) == ["image made at 400", "image made at 300"]
    assert history.page(5, 10) == [] and history.get(999) is None and history.thumbnail(999) is None


def test_search_matches_all_words_in_any_case_and_wildcards_literally(history, tmp_path):
    texts = ["A lighthouse at dusk, (oil painting:1.2)", "portrait, 100% detail", "cat_girl, LIGHTHOUSE keeper",
             "catgirl in a garden", "Café au lait, dusk"]
    for number, text in enumerate(texts):
        record(history, tmp_path, f"{number:05}.png", text, float(number))

    def found(query: str) -> list[str]:
        assert history.count(query) == len(history.page(0, 100, query))
        return sorted(prompts(history.page(0, 100, query)))

    assert found("lighthouse") == sorted([texts[0], texts[2]])
    assert found("DUSK lighthouse") == [texts[0]]
    assert found("  lighthouse   keeper ") == [texts[2]]
    assert found("%") == [texts[1]] and found("100%") == [texts[1]]
    assert found("_") == [texts[2]] and found("cat_") == [texts[2]]
    assert found("CAFÉ") == [texts[4]]
    assert found("lighthouse garden") == [] and found("") == sorted(texts)


def test_model_filter_combines_with_search_and_lists_models(history, tmp_path):
    record(history, tmp_path, "1.png", "a castle", 1.0, model="dreamshaper_8")
    record(history, tmp_path, "2.png", "a castle", 2.0, model="sd_xl_base_1.0")
    record(history, tmp_path, "3.png", "a dragon", 3.0, model="sd_xl_base_1.0")
    record(history, tmp_path, "4.png", "a dragon", 4.0, model="Anything-v5")

    assert history.models() == ["Anything-v5", "dreamshaper_8", "sd_xl_base_1.0"]
    assert prompts(history.page(0, 10, model="sd_xl_base_1.0")) == ["a dragon", "a castle"]
    assert history.count("castle", model="sd_xl_base_1.0") == 1
    assert history.count(model="no such model") == 0


def test_delete_sends_the_file_to_the_trash_and_forgets_it(history, tmp_path):
    kept = record(history, tmp_path, "1.png", "keep me", 1.0)
    doomed = record(history, tmp_path, "2.png", "delete me", 2.0)
    trashed: list[Path] = []
    history.delete(doomed.id, trashed.append)

    assert trashed == [doomed.path]
    assert history.get(doomed.id) is None and history.thumbnail(doomed.id) is None
    assert history.page(0, 10) == [kept] and history.models() == ["dreamshaper_8"]


def test_deleting_an_image_whose_file_is_gone_still_removes_it(history, tmp_path):
    entry = record(history, tmp_path, "1.png", "moved away", 1.0)
    entry.path.unlink()
    trashed: list[Path] = []
    history.delete(entry.id, trashed.append)
    assert trashed == [] and history.count() == 0


def test_when_the_trash_refuses_the_image_stays(history, tmp_path):
    entry = record(history, tmp_path, "1.png", "locked", 1.0)

    def refuse(path: Path) -> None:
        raise PermissionError(f"cannot move {path} to the trash")

    with pytest.raises(PermissionError):
        history.delete(entry.id, refuse)
    assert history.get(entry.id) == entry and entry.path.exists()


def test_no_row_without_its_file(history, tmp_path):
    image = Image.new("RGB", (8, 8))
    with pytest.raises(FileNotFoundError):
        history.record(tmp_path / "never-saved.png", image, "", {"prompt": "x"}, "m", None)
    assert history.count() == 0


def test_a_batch_that_fails_part_way_records_none_of_it(history, tmp_path):
    record(history, tmp_path, "0.png", "before", 1.0)
    with pytest.raises(FileNotFoundError):
        with history.batch():
            record(history, tmp_path, "1.png", "first of the batch", 2.0)
            history.record(tmp_path / "lost.png", Image.new("RGB", (8, 8)), "", {"prompt": "x"}, "m", None)
    assert prompts(history.page(0, 10)) == ["before"]
    with history.batch():
        record(history, tmp_path, "2.png", "kept", 3.0)
        with contextlib.suppress(RuntimeError), history.batch():
            record(history, tmp_path, "3.png", "undone", 4.0)
            raise RuntimeError("the inner part fails and is caught")
        record(history, tmp_path, "4.png", "also kept", 5.0)
    assert prompts(history.page(0, 10)) == ["also kept", "kept", "before"]


def test_recording_the_same_file_again_replaces_it(history, tmp_path):
    first = record(history, tmp_path, "1.png", "first take", 1.0)
    second = record(history, tmp_path, "1.png", "second take", 2.0)
    assert second.id == first.id and history.page(0, 10) == [second]


def test_prune_missing_forgets_files_deleted_outside_easel(history, tmp_path):
    kept = record(history, tmp_path, "1.png", "still here", 1.0)
    gone = record(history, tmp_path, "2.png", "deleted in Finder", 2.0)
    gone.path.unlink()
    assert history.prune_missing() == 1
    assert history.page(0, 10) == [kept] and history.prune_missing() == 0


def test_import_untracked_recovers_saved_images_and_skips_the_rest(history, tmp_path):
    out = tmp_path / "outputs"
    known = record(history, out, "00000-1.png", "already recorded", 1.0)
    save_generation(out / "2026-05-09", "00001-77.png", "saved before a kill", model="sd_xl_base_1.0", seed=77)
    a1111 = Image.new("RGB", (40, 30), (10, 20, 30))
    save_png_atomically(a1111, out / "from-a1111.png", "a fox\nSteps: 20, Seed: 5, Size: 40x30, Model: majicmix", None)
    save_png_atomically(a1111, out / "no-settings.png", None, None)
    (out / "half.png").write_bytes((out / "from-a1111.png").read_bytes()[:-200])
    (out / ".00002-9.png.0a1b2c3d.tmp").write_bytes(b"\x89PNG partial")

    assert history.import_untracked(out) == 2
    recovered = {entry.prompt: entry for entry in history.page(0, 10)}
    assert set(recovered) == {"already recorded", "saved before a kill", "a fox"}
    assert recovered["already recorded"] == known
    kill = recovered["saved before a kill"]
    assert (kill.model_name, kill.model_hash, kill.seed) == ("sd_xl_base_1.0", "7c6bad76eb", 77)
    assert kill.created == pytest.approx(kill.path.stat().st_mtime)
    assert (recovered["a fox"].model_name, recovered["a fox"].seed) == ("majicmix", 5)
    assert history.thumbnail(recovered["a fox"].id) is not None
    assert history.import_untracked(out) == 0


def test_window_reads_while_the_worker_records(tmp_path):
    window = History.open(tmp_path / "history.sqlite3")
    reader_page = window.page(0, 10)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            own = History.open(tmp_path / "history.sqlite3")  # one History per thread
            record(own, tmp_path, "1.png", "from the worker", 1.0)
            own.close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=30)
    assert not errors and reader_page == []
    assert prompts(window.page(0, 10)) == ["from the worker"]
    window.close()


def test_ten_thousand_images_page_and_search_quickly_without_reading_thumbnails(history, tmp_path):
    png = io.BytesIO()
    tiny = Image.new("RGB", (16, 16), (90, 90, 90))
    tiny.save(png, format="PNG")
    paths = [tmp_path / f"{number:05}.png" for number in range(10_000)]
    for path in paths:
        path.write_bytes(png.getvalue())
    started = time.perf_counter()
    with history.batch():
        for number, path in enumerate(paths):
            prompt = f"image {number} {'lighthouse' if number % 2 else 'castle'}"
            history.record(path, tiny, "", {"prompt": prompt, "seed": number}, f"model{number % 3}", None,
                           created=float(number))
    assert time.perf_counter() - started < 30  # about 3 s on an idle 2-core machine

    statements: list[str] = []
    history._connection.set_trace_callback(statements.append)  # the SQL the gallery's scrolling runs
    started = time.perf_counter()
    total = history.count("LIGHTHOUSE image")
    last_page = history.page(4900, 100, "LIGHTHOUSE image")
    filtered = history.page(9900, 100)
    by_model = history.page(1500, 100, "castle", model="model1")
    elapsed = time.perf_counter() - started

    assert total == 5000 and len(last_page) == 100 and last_page[-1].prompt == "image 1 lighthouse"
    assert [entry.seed for entry in filtered] == list(range(99, -1, -1))
    assert len(by_model) == 100 and all(e.model_name == "model1" and "castle" in e.prompt for e in by_model)
    assert elapsed < 0.5
    assert statements and not [sql for sql in statements if "thumbnail" in sql.lower()]
