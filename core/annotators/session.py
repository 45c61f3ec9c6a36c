"""The annotator networks one generation uses: found in the models folders Easel knows, loaded once each."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from torch import nn

from core.annotator_weights import AnnotatorFile, find_annotator, missing_weights_error
from core.annotators.weights import load_weights


class AnnotatorSession:
    """Finds and keeps loaded annotator networks for as long as it lives (one request: two units with the
    same preprocessor load it once). `models_dirs` are Easel's models folder and A1111 `models` folders,
    first the one Easel downloads into."""

    def __init__(self, models_dirs: Sequence[Path], device: str = "cpu") -> None:
        self.models_dirs = tuple(dict.fromkeys(Path(folder) for folder in models_dirs))
        self.device = device
        self._networks: dict[str, nn.Module] = {}

    def find(self, file: AnnotatorFile) -> Path | None:
        return next((path for folder in self.models_dirs if (path := find_annotator(file, folder)) is not None),
                    None)

    def path(self, file: AnnotatorFile) -> Path:
        """Where `file` is; a ModelFileError naming it and where to put it when it is nowhere."""
        path = self.find(file)
        if path is None:
            raise missing_weights_error(file, self.models_dirs[0] if self.models_dirs else Path("models"))
        return path

    def models_dir_with(self, file: AnnotatorFile) -> Path:
        """The models folder that holds `file` (or the first one, whose error then says where to put it)."""
        for folder in self.models_dirs:
            if find_annotator(file, folder) is not None:
                return folder
        return self.models_dirs[0] if self.models_dirs else Path("models")

    def network(self, file: AnnotatorFile, build: Callable[[], nn.Module], strip_prefix: str = "") -> nn.Module:
        """`file`'s network (Easel's copy, built by `build`), loaded on first use."""
        return self.loaded(file, lambda path: load_weights(build, path, file, strip_prefix))

    def loaded(self, file: AnnotatorFile, load: Callable[[Path], nn.Module]) -> nn.Module:
        """`file`'s network as `load(path)` makes it, loaded on first use."""
        if file.filename not in self._networks:
            self._networks[file.filename] = load(self.path(file)).to(self.device)
        return self._networks[file.filename]
