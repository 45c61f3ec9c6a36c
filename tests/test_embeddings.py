"""Textual-inversion embeddings used by name in a prompt, as A1111 uses them."""

from __future__ import annotations

import builtins
import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import UnsafeFileError
from core.events import Failed, Started
from core.models.safe_load import load_state_dict
from core.paths import AppPaths
from core.prompts.embeddings import SINGLE, EmbeddingLookup, read_embedding
from core.prompts.encoding import encode_texts, tokenize_chunks
from core.synthetic import tiny_embedding_vectors, write_tiny_embedding
from tests.models import Recorder, make_engine, tiny_request


class Payload:
    """Unpickling this writes `marker`; Easel must never let it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pwned") / "marker"


@pytest.fixture(scope="module")
def embeddings_home(tmp_path_factory: pytest.TempPathFactory, marker: Path) -> Path:
    home = tmp_path_factory.mktemp("ti-home")
    folder = AppPaths(home).ensure().models_dir / "embeddings"
    write_tiny_embedding(folder / "easyneg.safetensors", "sd1", vectors=3, seed=1)
    write_tiny_embedding(folder / "twinst.safetensors", "sd1", vectors=2, seed=2)
    write_tiny_embedding(folder / "twinpt.pt", "sd1", vectors=2, seed=2, style="pt")
    write_tiny_embedding(folder / "other.safetensors", "sd1", vectors=2, seed=5)
    write_tiny_embedding(folder / "wide.safetensors", "sd1", vectors=2, seed=3, width=48)
    write_tiny_embedding(folder / "xlneg.safetensors", "sdxl", vectors=2, seed=4)
    (folder / "evilneg.pt").write_bytes(pickle.dumps({"string_to_param": {"*": Payload(marker)}}))
    return home


def loaded_engine(home: Path, model, folder: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(home)
    engine.generate(tiny_request(model, steps=1, negative_prompt=""), Recorder(), output_dir=folder)
    return engine


@pytest.fixture(scope="module")
def sd1(embeddings_home, tiny_models, tmp_path_factory):  # type: ignore[no-untyped-def]
    return loaded_engine(embeddings_home, tiny_models["sd1"], tmp_path_factory.mktemp("ti-sd1"))


@pytest.fixture(scope="module")
def sdxl(embeddings_home, tiny_models, tmp_path_factory):  # type: ignore[no-untyped-def]
    return loaded_engine(embeddings_home, tiny_models["sdxl"], tmp_path_factory.mktemp("ti-sdxl"))


@pytest.fixture(scope="module")
def plain_sd1(tiny_models, tmp_path_factory):  # type: ignore[no-untyped-def]
    """An engine with no embeddings: the names are read as words."""
    return loaded_engine(tmp_path_factory.mktemp("plain-home"), tiny_models["sd1"],
                         tmp_path_factory.mktemp("plain-sd1"))


def generate(engine, model, folder: Path, **changes):  # type: ignore[no-untyped-def]
    events = Recorder()
    done = engine.generate(tiny_request(model, **changes), events, output_dir=folder)
    return done, events


def pixels(done) -> np.ndarray:  # type: ignore[no-untyped-def]
    [image] = done
    return np.asarray(image.image.convert("RGB"), dtype=np.int16)


def token_embeddings_seen(pipe, text: str, embeddings) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """What the transformer layers receive, less the position embeddings: the token embeddings used."""
    layer = getattr(pipe.text_encoder, "text_model", pipe.text_encoder).embeddings
    seen = []
    handle = layer.register_forward_hook(lambda _m, _i, output: seen.append(output.clone()))
    try:
        encode_texts(pipe, "sd1", [text], embeddings=embeddings)
    finally:
        handle.remove()
    return seen[0][0] - layer.position_embedding.weight[:seen[0].shape[1]]


def sd1_vectors(seed: int, vectors: int) -> dict[str, torch.Tensor]:
    return {"text_encoder": tiny_embedding_vectors("sd1", vectors, seed)["emb_params"]}


def test_the_name_is_replaced_by_one_position_per_vector(sd1):
    pipe = sd1.loaded_model.base
    tokenizer = pipe.tokenizer
    plain = tokenizer("a photo,", add_special_tokens=False)["input_ids"]
    [chunk] = tokenize_chunks(tokenizer, "a photo, easyneg", EmbeddingLookup(tokenizer, {"easyneg": 3}))
    start = 1 + len(plain)
    assert chunk.tokens[:start + 4] == (tokenizer.bos_token_id, *plain, 0, 0, 0, tokenizer.eos_token_id)
    assert chunk.fixes == ((start, "easyneg"),)
    # The number of positions is the number of vectors, whatever the name's length in tokens.
    [five] = tokenize_chunks(tokenizer, "a photo, easyneg", EmbeddingLookup(tokenizer, {"easyneg": 5}))
    assert five.tokens[start:start + 6] == (0, 0, 0, 0, 0, tokenizer.eos_token_id)

    vectors = sd1_vectors(seed=1, vectors=3)
    hooks_before = dict(pipe.text_encoder.get_input_embeddings()._forward_hooks)
    seen = token_embeddings_seen(pipe, "a photo, easyneg", {"easyneg": vectors})
    assert torch.allclose(seen[start:start + 3], vectors["text_encoder"], atol=1e-5)
    assert dict(pipe.text_encoder.get_input_embeddings()._forward_hooks) == hooks_before


def test_emphasis_applies_to_the_embedding_positions(sd1):
    tokenizer = sd1.loaded_model.base.tokenizer
    [chunk] = tokenize_chunks(tokenizer, "a photo, (easyneg:1.3)", EmbeddingLookup(tokenizer, {"easyneg": 3}))
    [(start, _)] = chunk.fixes
    assert chunk.multipliers[start:start + 3] == (1.3, 1.3, 1.3)
    assert chunk.multipliers[start + 3] == 1.0


def test_an_embedding_that_would_overflow_a_chunk_moves_whole_to_the_next(sd1):
    tokenizer = sd1.loaded_model.base.tokenizer
    text = " ".join(["fox"] * 74) + " easyneg"
    first, second = tokenize_chunks(tokenizer, text, EmbeddingLookup(tokenizer, {"easyneg": 3}))
    assert first.fixes == () and first.tokens[75] == tokenizer.eos_token_id
    assert second.fixes == ((1, "easyneg"),) and second.tokens[1:5] == (0, 0, 0, tokenizer.eos_token_id)


def test_text_without_embedding_names_encodes_exactly_as_before(sd1):
    pipe = sd1.loaded_model.base
    text = "a (red:1.2) fox, in the snow"
    with_embeddings = encode_texts(pipe, "sd1", [text], embeddings={"easyneg": sd1_vectors(1, 3)})[0].embeds
    assert torch.equal(with_embeddings, encode_texts(pipe, "sd1", [text])[0].embeds)


def test_the_name_in_the_negative_prompt_changes_the_image_reproducibly(sd1, plain_sd1, tiny_models, tmp_path,
                                                                      embeddings_home):
    model = tiny_models["sd1"]
    first, events = generate(sd1, model, tmp_path, negative_prompt="blurry, easyneg")
    again, _ = generate(sd1, model, tmp_path, negative_prompt="blurry, easyneg")
    as_words, _ = generate(plain_sd1, model, tmp_path, negative_prompt="blurry, easyneg")
    assert np.array_equal(pixels(first), pixels(again))
    assert np.abs(pixels(first) - pixels(as_words)).mean() > 1.0
    path = AppPaths(embeddings_home).models_dir / "embeddings" / "easyneg.safetensors"
    expected = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert f'TI hashes: "easyneg: {expected}"' in first[0].infotext
    assert "TI hashes" not in as_words[0].infotext
    assert not events.of(Failed)


def test_an_a1111_pt_embedding_works_as_its_safetensors_twin(sd1, tiny_models, tmp_path):
    model = tiny_models["sd1"]
    from_pt, _ = generate(sd1, model, tmp_path, negative_prompt="blurry, twinpt")
    from_safetensors, _ = generate(sd1, model, tmp_path, negative_prompt="blurry, twinst")
    other_vectors, _ = generate(sd1, model, tmp_path, negative_prompt="blurry, other")
    assert np.array_equal(pixels(from_pt), pixels(from_safetensors))
    assert not np.array_equal(pixels(from_pt), pixels(other_vectors))  # the vectors, not just the name, count
    assert 'TI hashes: "twinpt: ' in from_pt[0].infotext


def test_an_sdxl_embedding_goes_into_both_text_encoders(sdxl, tiny_models, tmp_path):
    pipe = sdxl.loaded_model.base
    def encoded(seed: int) -> torch.Tensor:
        raw = tiny_embedding_vectors("sdxl", 2, seed=seed)
        vectors = {"xlneg": {"text_encoder": raw["clip_l"], "text_encoder_2": raw["clip_g"]}}
        return encode_texts(pipe, "sdxl", ["a photo, xlneg"], embeddings=vectors)[0].embeds

    with_embedding, with_other_vectors = encoded(4), encoded(5)
    width_l = pipe.text_encoder.config.hidden_size
    assert not torch.allclose(with_embedding[..., :width_l], with_other_vectors[..., :width_l])
    assert not torch.allclose(with_embedding[..., width_l:], with_other_vectors[..., width_l:])

    done, events = generate(sdxl, tiny_models["sdxl"], tmp_path, negative_prompt="xlneg")
    assert 'TI hashes: "xlneg: ' in done[0].infotext
    assert not any("xlneg" in notice for started in events.of(Started) for notice in started.notices)


def test_an_embedding_of_another_width_is_skipped_with_a_notice(sd1, plain_sd1, tiny_models, tmp_path):
    model = tiny_models["sd1"]
    skipped, events = generate(sd1, model, tmp_path, negative_prompt="blurry, wide")
    as_words, _ = generate(plain_sd1, model, tmp_path, negative_prompt="blurry, wide")
    [started] = events.of(Started)
    assert any("wide" in notice and "skipped" in notice for notice in started.notices)
    assert np.array_equal(pixels(skipped), pixels(as_words))
    assert "TI hashes" not in skipped[0].infotext


def test_an_sd1_embedding_on_sdxl_is_skipped_with_a_notice(sdxl, tiny_models, tmp_path):
    done, events = generate(sdxl, tiny_models["sdxl"], tmp_path, negative_prompt="easyneg")
    [started] = events.of(Started)
    assert any("easyneg" in notice and "skipped" in notice for notice in started.notices)
    assert len(done) == 1 and "TI hashes" not in done[0].infotext


def test_a_pickle_named_like_an_embedding_is_refused_and_never_runs(sd1, tiny_models, tmp_path, marker,
                                                                   embeddings_home):
    path = AppPaths(embeddings_home).models_dir / "embeddings" / "evilneg.pt"
    with pytest.raises(UnsafeFileError) as refused:
        load_state_dict(path)
    done, events = generate(sd1, tiny_models["sd1"], tmp_path, negative_prompt="blurry, evilneg")
    [failed] = events.of(Failed)
    assert failed.message == refused.value.message
    assert done == [] and not marker.exists()


def test_a_diffusers_learned_embeds_file_is_read(tmp_path):
    path = tmp_path / "learned_embeds.bin"
    torch.save({"<cat-toy>": torch.ones(768)}, path)
    vectors = read_embedding(path)
    assert list(vectors) == [SINGLE] and vectors[SINGLE].shape == (1, 768)
