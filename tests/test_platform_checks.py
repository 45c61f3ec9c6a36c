"""Rosetta and missing-MPS detection, with the system's answers faked (passed in, never patched)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.platform_checks import (
    MPS_MIN_MACOS, PlatformInfo, parse_macos_version, platform_notices, read_platform, sysctl_int,
)


class FakeSysctl:
    """sysctlbyname with fixed answers; records what was asked."""

    def __init__(self, values: dict[str, int]) -> None:
        self.values = values
        self.asked: list[str] = []

    def __call__(self, name: str) -> int | None:
        self.asked.append(name)
        return self.values.get(name)  # None: no such sysctl (an Intel Mac has no proc_translated)


def mac(version: str = "14.4.1", translated: int | None = 0, mps: tuple[bool, bool] | None = (True, True),
        sysctl: FakeSysctl | None = None) -> PlatformInfo:
    sysctl = sysctl or FakeSysctl({} if translated is None else {"sysctl.proc_translated": translated})
    return read_platform(system=lambda: "Darwin", mac_ver=lambda: version, sysctl=sysctl,
                         mps_status=(lambda: mps) if mps else None)


def test_an_arm64_mac_on_a_current_macos_gets_no_notice() -> None:
    sysctl = FakeSysctl({"sysctl.proc_translated": 0})
    info = mac(sysctl=sysctl)
    assert sysctl.asked == ["sysctl.proc_translated"]
    assert info == PlatformInfo("Darwin", (14, 4, 1), False, True, True)
    assert platform_notices(info) == []


def test_rosetta_says_the_gpu_is_unavailable_and_where_the_arm64_build_is() -> None:
    # Under Rosetta torch may well claim MPS is missing; the cause to report is the translation.
    info = mac(translated=1, mps=(False, False))
    assert info.translated
    [notice] = platform_notices(info)
    assert "Rosetta" in notice.message and "GPU" in notice.message and "unavailable" in notice.message
    assert "arm64" in notice.hint and "releases page" in notice.hint


def test_an_intel_mac_has_no_translation_flag_and_is_not_translated() -> None:
    info = mac(translated=None)
    assert not info.translated
    assert platform_notices(info) == []


@pytest.mark.parametrize("version", ["12.2", "12.2.1", "11.7.10", "10.15.7"])
def test_macos_older_than_12_3_says_mps_needs_12_3(version: str) -> None:
    [notice] = platform_notices(mac(version, mps=(True, False)))
    assert f"macOS {version} is older than 12.3" in notice.message
    assert "GPU (MPS)" in notice.message and "CPU" in notice.message
    assert "Update macOS" in notice.hint


@pytest.mark.parametrize("version", ["12.3", "12.3.1", "13.0", "15.1"])
def test_macos_12_3_and_later_is_enough(version: str) -> None:
    assert parse_macos_version(version) >= MPS_MIN_MACOS
    assert platform_notices(mac(version)) == []


def test_big_sur_compat_version_10_16_counts_as_11() -> None:
    assert parse_macos_version("10.16") == (11, 0)
    [notice] = platform_notices(mac("10.16", mps=None))
    assert "macOS 11.0 is older than 12.3" in notice.message


def test_a_torch_built_without_mps_is_reported() -> None:
    [notice] = platform_notices(mac(mps=(False, False)))
    assert "built without MPS" in notice.message
    assert "arm64" in notice.hint


def test_mps_built_but_unavailable_is_reported() -> None:
    [notice] = platform_notices(mac(mps=(True, False)))
    assert "not available" in notice.message and "CPU" in notice.message


def test_without_the_torch_answer_only_the_system_facts_count() -> None:
    info = mac(mps=None)  # at app start torch is not imported yet
    assert (info.mps_built, info.mps_available) == (None, None)
    assert platform_notices(info) == []


@pytest.mark.parametrize("system", ["Linux", "Windows"])
def test_other_systems_ask_nothing_and_get_no_notice(system: str) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("asked outside macOS")

    info = read_platform(system=lambda: system, mac_ver=refuse, sysctl=refuse, mps_status=refuse)
    assert info == PlatformInfo(system, None, False, None, None)
    assert platform_notices(info) == []


def test_unreadable_versions_are_unknown_not_old() -> None:
    assert parse_macos_version("") is None
    assert parse_macos_version("beta") is None
    assert platform_notices(mac("", mps=None)) == []


@pytest.mark.skipif(sys.platform == "darwin", reason="the real sysctl answers on macOS")
def test_the_real_sysctl_reader_answers_none_outside_macos() -> None:
    assert sysctl_int("sysctl.proc_translated") is None


@pytest.mark.skipif(sys.platform != "darwin", reason="macOS only")
def test_the_real_sysctl_reader_reads_an_integer_on_macos() -> None:
    assert sysctl_int("hw.ncpu") >= 1
    assert sysctl_int("sysctl.proc_translated") in (None, 0, 1)


# ----- in the window ------------------------------------------------------------------------------

def test_the_window_shows_the_rosetta_notice_at_start(qtbot, easel_home: Path) -> None:  # type: ignore[no-untyped-def]
    from core.paths import AppPaths
    from desktop.app import start_session

    session = start_session(AppPaths(easel_home).ensure(), show=False, platform=mac(translated=1, mps=None))
    try:
        messages = session.window.notifications.messages()
        rosetta = [m for m in messages if "Rosetta" in m.message]
        assert len(rosetta) == 1
        assert rosetta[0].severity.value == "warning"
        assert "arm64" in rosetta[0].hint_label.text()
    finally:
        session.close()


def test_files_opened_with_easel_on_macos_reach_the_window(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from desktop.app import FileOpenEvents, opened_files

    opened: list[list[Path]] = []
    app = QApplication.instance()
    handler = FileOpenEvents(opened.append, app)
    app.installEventFilter(handler)
    try:
        QApplication.sendEvent(app, QFileOpenEvent(str(tmp_path / "a.png")))
    finally:
        app.removeEventFilter(handler)
    assert opened == [[tmp_path / "a.png"]]
    image = tmp_path / "b.png"
    image.write_bytes(b"x")
    assert opened_files(["--flag", str(image), str(tmp_path / "missing.png")]) == [image]
