"""`easel models`: what the scan found, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from core.model_resolution import ModelResolver
from core.paths import AppPaths
from core.settings import Settings


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def run_models(args: argparse.Namespace, paths: AppPaths, settings: Settings, out: TextIO) -> int:
    resolver = ModelResolver.from_settings(paths, settings, extra_folders=args.models_dir)
    entries = resolver.entries()
    if args.hash:
        resolver.hash_all(entries)
        entries = resolver.entries()
    if args.json:
        print(json.dumps([entry.to_json() for entry in entries], indent=2), file=out)
        return 0
    if not entries:
        print(f"No models found. Put them in {paths.models_dir} or pass --models-dir DIR.", file=out)
        return 0
    for entry in entries:
        arch = (entry.architecture or "-") + (" inpaint" if entry.inpaint else "")
        note = "" if entry.supported else f"  (not usable: {entry.reason})"
        print(f"{entry.kind:<11} {arch:<18} {_size(entry.size):>9}  {entry.hash or '':<10}  {entry.path}{note}",
              file=out)
    return 0
