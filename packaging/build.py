#!/usr/bin/env python3
"""Build Easel's bundle for this OS with PyInstaller (packaging/easel.spec), one command on every OS:

    python3 packaging/build.py                 # macOS: dist/Easel.app   Windows: dist\\Easel\\   Linux: dist/easel/
    python3 packaging/build.py --self-test     # then run the bundle's `--self-test`

It uses the development environment (.venv, set up by dev.py as for `dev.py run`) unless `--python` names
another interpreter that has Easel's dependencies, and installs PyInstaller there from the `bundle`
extra in pyproject.toml when it is missing. On macOS the .app is then signed ad hoc
(`codesign --force --deep -s -`). Only the standard library is used here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "easel.spec"


def bundle_requirements() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]["optional-dependencies"]["bundle"]


def development_python() -> Path:
    sys.path.insert(0, str(ROOT))
    import dev  # the same set-up as `python3 dev.py run`

    return dev.ensure_environment()


def ensure_pyinstaller(python: Path) -> None:
    if subprocess.run([python, "-c", "import PyInstaller"], capture_output=True).returncode == 0:
        return
    print("Installing PyInstaller (the `bundle` extra) ...", flush=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", *bundle_requirements()], check=True)


def bundle_path(dist: Path) -> Path:
    if sys.platform == "darwin":
        return dist / "Easel.app"
    return dist / ("Easel" if os.name == "nt" else "easel")


def executable_path(bundle: Path) -> Path:
    """The executable that prints to a terminal: on Windows the console one beside the windowed Easel.exe."""
    if sys.platform == "darwin":
        return bundle / "Contents" / "MacOS" / "Easel"
    return bundle / ("easel-cli.exe" if os.name == "nt" else "easel")


def folder_size(folder: Path) -> int:
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def build(python: Path, dist: Path, work: Path, identity: str | None = None) -> Path:
    ensure_pyinstaller(python)
    env = {**os.environ, "EASEL_CODESIGN_IDENTITY": identity or ""}
    subprocess.run([python, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(dist), "--workpath", str(work), str(SPEC)], check=True, cwd=ROOT, env=env)
    bundle = bundle_path(dist)
    if sys.platform == "darwin":
        if not identity:
            # PyInstaller signs each binary ad hoc; this seals the whole .app with one ad-hoc signature.
            subprocess.run(["codesign", "--force", "--deep", "-s", "-", str(bundle)], check=True)
        subprocess.run(["codesign", "--verify", "--deep", "--strict", str(bundle)], check=True)
    return bundle


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build Easel's bundle for this OS.")
    parser.add_argument("--python", type=Path, help="interpreter with Easel's dependencies (default: .venv)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes (dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder (build/)")
    parser.add_argument("--self-test", action="store_true", help="run the bundle's --self-test afterwards")
    parser.add_argument("--sign-identity", metavar="ID",
                        help='macOS: sign with this Developer ID ("Developer ID Application: Name (TEAMID)") and '
                             "the hardened runtime, for notarization; default: ad hoc")
    args = parser.parse_args(argv)
    python = args.python or development_python()
    bundle = build(python, args.dist.resolve(), args.work.resolve(), args.sign_identity)
    print(f"{bundle}: {folder_size(bundle) / 1024**3:.2f} GiB", flush=True)
    if not args.self_test:
        return 0
    executable = executable_path(bundle)
    print(f"{executable} --self-test", flush=True)
    return subprocess.call([str(executable), "--self-test"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
