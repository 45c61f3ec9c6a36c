"""Files named by their content: a request keeps pointing at exactly the bytes it was made with, and the
same image, mask or pose is written once however often it is used."""

from __future__ import annotations

import hashlib
from pathlib import Path


def write_by_content(folder: Path, prefix: str, suffix: str, data: bytes) -> Path:
    """`folder/<prefix>-<16 hex digits of the SHA-256><suffix>`, written (atomically) only if new."""
    path = Path(folder) / f"{prefix}-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        temporary.replace(path)
    return path
