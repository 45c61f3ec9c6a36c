"""What goes into Easel's bundles, as plain data and functions, shared by easel.spec and the tests.

Nothing here imports PyInstaller (the spec does), so the values can be read and checked anywhere.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "Easel"
BUNDLE_IDENTIFIER = "app.easel.Easel"
MACOS_MINIMUM = "12.3"  # the first macOS with the MPS (Metal) backend of PyTorch
ICON_SOURCE = ROOT / "resources" / "icons" / "easel.png"
ENTRY_SCRIPT = ROOT / "packaging" / "easel_entry.py"
ENTITLEMENTS = ROOT / "packaging" / "entitlements.plist"  # hardened runtime, for Developer ID signing

# Executables in the bundle folder. On Windows a windowed program has no console to print to, so the
# command line (`easel-cli.exe generate ...`, `--self-test`) gets its own console executable beside it.
GUI_EXECUTABLE = {"darwin": "Easel", "win32": "Easel", "linux": "easel"}
CLI_EXECUTABLE = {"win32": "easel-cli"}

# Modules that are never needed at run time, and what they would cost:
EXCLUDES = [
    "tkinter", "_tkinter",  # Qt draws the windows
    "open_clip", "pytest", "_pytest", "pytestqt", "tests", "PyInstaller",  # test and build tools
    "triton",  # torch.compile's GPU kernels; Easel does not compile (896 MB on Linux)
    "IPython", "matplotlib", "pandas", "jax", "flax", "tensorflow", "keras", "onnxruntime",  # optional imports
    "torch.utils.tensorboard", "tensorboard",
]
# Files dropped from what the hooks collect (header files and static libraries of torch and Qt).
EXCLUDED_FILE_PATTERNS = ("/include/", ".h", ".hpp", ".cuh", ".lib", ".a", ".cmake", ".pyi")

# torchvision's operator libraries (_C_stable.so / .pyd): not named lib*.so, so PyInstaller's default misses them.
EXTENSION_PATTERNS = ["*.so", "*.pyd", "*.dylib", "*.dll"]
# Packages looked up by name (importlib.metadata) at run time by diffusers/transformers' version checks.
METADATA_PACKAGES = [
    "diffusers", "transformers", "torch", "accelerate", "peft", "safetensors", "huggingface_hub", "tokenizers",
    "numpy", "pillow", "regex", "requests", "filelock", "packaging", "tqdm", "pyyaml", "spandrel", "timm",
    "ftfy", "platformdirs", "send2trash", "PySide6-Essentials", "easel",
]
# Loaded by name, not imported where PyInstaller can see it: diffusers and transformers import their
# classes lazily (`from diffusers import StableDiffusionPipeline` resolves at run time).
SUBMODULE_PACKAGES = ["diffusers", "peft", "spandrel", "core", "desktop"]
# transformers' model families the code reaches: CLIP (text encoders, tokenizer, image encoders), Depth Anything
# and its DINOv2 backbone (the depth preprocessor), and those peft and diffusers' loaders import when they load
# (bloom, gpt2, siglip, vit_mae, ...). tests/test_self_test.py checks that nothing outside this list is imported.
# The other ~550 families are left out (about 200 MB of Python sources and bytecode).
TRANSFORMERS_MODELS = (
    "auto", "clip", "depth_anything", "dinov2", "dinov2_with_registers", "dpt",
    "bloom", "gpt2", "t5", "siglip", "vit_mae", "encoder_decoder",
)


def project_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    with pyproject.open("rb") as file:
        return tomllib.load(file)["project"]["version"]


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """"0.1.0" -> (0, 1, 0, 0): Windows version resources want four numbers."""
    numbers = [int(part) for part in re.findall(r"\d+", version)[:4]]
    return tuple(numbers + [0] * (4 - len(numbers)))  # type: ignore[return-value]


def left_out_transformers_families(models_dir: Path) -> list[str]:
    """`transformers.models.<family>` for every family not in TRANSFORMERS_MODELS, to exclude: transformers
    imports all of them under TYPE_CHECKING, so without this PyInstaller would collect every one."""
    return sorted(f"transformers.models.{path.name}" for path in models_dir.iterdir()
                  if (path / "__init__.py").is_file() and path.name not in TRANSFORMERS_MODELS)


def keep_transformers_module(name: str) -> bool:
    """transformers' own machinery, and only the model families Stable Diffusion uses."""
    parts = name.split(".")
    return len(parts) < 3 or parts[1] != "models" or parts[2] in TRANSFORMERS_MODELS


def info_plist(version: str) -> dict[str, Any]:
    """The macOS Info.plist entries (PyInstaller adds the executable and icon names)."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_IDENTIFIER,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundlePackageType": "APPL",
        "LSMinimumSystemVersion": MACOS_MINIMUM,
        "LSArchitecturePriority": ["arm64"],
        "LSApplicationCategoryType": "public.app-category.graphics-design",
        "NSHighResolutionCapable": True,
        "NSPrincipalClass": "NSApplication",
        "NSRequiresAquaSystemAppearance": False,  # follow dark mode
        "CFBundleDocumentTypes": [
            _document_type("PNG image", "public.png", ["png"]),
            _document_type("JPEG image", "public.jpeg", ["jpg", "jpeg"]),
            _document_type("WebP image", "org.webmproject.webp", ["webp"]),
        ],
    }


def _document_type(name: str, uti: str, extensions: list[str]) -> dict[str, Any]:
    # Viewer + Alternate: "Open With > Easel" shows its parameters; Easel never claims to be the default.
    return {
        "CFBundleTypeName": name,
        "CFBundleTypeRole": "Viewer",
        "LSHandlerRank": "Alternate",
        "LSItemContentTypes": [uti],
        "CFBundleTypeExtensions": extensions,
    }


def windows_version_info(version: str) -> str:
    """A PyInstaller version-resource file (`EXE(version=...)`): what Explorer shows under Details."""
    numbers = version_tuple(version)
    strings = {
        "CompanyName": APP_NAME,
        "FileDescription": "Easel - Stable Diffusion studio",
        "FileVersion": version,
        "InternalName": APP_NAME,
        "OriginalFilename": f"{APP_NAME}.exe",
        "ProductName": APP_NAME,
        "ProductVersion": version,
        "LegalCopyright": "MIT License",
    }
    entries = ",\n          ".join(f"StringStruct({key!r}, {value!r})" for key, value in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={numbers}, prodvers={numbers}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
          {entries}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_windows_version_file(folder: Path, version: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "version-info.txt"
    path.write_text(windows_version_info(version), encoding="utf-8")
    return str(path)


def resource_datas(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source, folder in the bundle): all of resources/ — configs, tokenizer, pose templates, icons."""
    return [(str(root / "resources"), "resources")]


def make_icons(folder: Path, source: Path = ICON_SOURCE) -> tuple[Path, Path]:
    """Write easel.icns and easel.ico from the 1024x1024 source PNG (Pillow writes both on any OS)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    image = Image.open(source).convert("RGBA")
    icns, ico = folder / "easel.icns", folder / "easel.ico"
    image.save(icns)  # Pillow writes every size macOS uses, 16 to 1024 (retina variants included)
    image.save(ico, sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    return icns, ico


def is_wanted_file(destination: str) -> bool:
    """False for build-time files the hooks collect but nothing loads at run time."""
    normalized = destination.replace("\\", "/")
    return not (("/include/" in f"/{normalized}") or normalized.endswith(EXCLUDED_FILE_PATTERNS[1:]))


def platform_key(platform: str | None = None) -> str:
    """"darwin", "win32" or "linux": the OS the bundle is built for (PyInstaller cannot cross-build)."""
    platform = platform or sys.platform
    return "linux" if platform.startswith("linux") else platform
