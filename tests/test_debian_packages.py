"""scripts/debian-packages.sh, which scripts/serve and scripts/test share: it installs only what is
missing, with sudo when not root, and reports a failure in one line instead of stopping the caller.
apt-get, sudo and id are named test doubles on PATH (recording their calls); bash is real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.server_process import ROOT

LIBRARY = ROOT / "scripts" / "debian-packages.sh"


def double(folder: Path, name: str, body: str) -> None:
    """A test double of a command: a shell script that appends its arguments to calls.log, then `body`."""
    script = folder / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{folder}/calls.log"\n{body}\n')
    script.chmod(0o755)


def run_library(folder: Path, wanted: str) -> tuple[str, list[str]]:
    """Source the library under `set -euo pipefail`, want `wanted`, install; its output and the calls made."""
    script = (f'set -euo pipefail; source "{LIBRARY}"; {wanted}\n'
              'if install_wanted; then echo "ok: ${wanted_packages[*]:-}"; '
              'else echo "failed: ${wanted_packages[*]} ($install_error)"; fi; echo continued')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                         env={"PATH": f"{folder}:/usr/bin:/bin:/usr/sbin:/sbin"}).stdout
    log = folder / "calls.log"
    return out, log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def doubles(tmp_path):
    double(tmp_path, "id", 'echo 0')  # root unless a test says otherwise
    return tmp_path


def test_nothing_missing_means_no_apt_get(doubles):
    double(doubles, "apt-get", "exit 0")
    out, calls = run_library(doubles, "want_command bash bash; want_library libc.so.6 libc6")
    assert out.splitlines() == ["ok: ", "continued"] and calls == []


def test_a_missing_command_is_installed_with_apt_get(doubles):
    double(doubles, "apt-get", "exit 0")
    out, calls = run_library(doubles, "want_command no-such-tool-here toolpkg; want_command bash bash")
    assert "ok: toolpkg" in out
    assert [c for c in calls if c.startswith("apt-get")] == [
        "apt-get update -qq", "apt-get install -y -qq --no-install-recommends toolpkg"]


def test_not_root_goes_through_sudo(doubles):
    double(doubles, "id", 'echo 1000')
    double(doubles, "sudo", '"$@"')
    double(doubles, "apt-get", "exit 0")
    out, calls = run_library(doubles, "want_command no-such-tool-here toolpkg")
    assert "ok: toolpkg" in out
    assert "sudo apt-get install -y -qq --no-install-recommends toolpkg" in calls


def test_a_failed_install_is_one_line_and_the_caller_goes_on(doubles):
    double(doubles, "apt-get", 'echo "E: Could not open lock file - open (13: Permission denied)" >&2; exit 100')
    out, _ = run_library(doubles, "want_command no-such-tool-here toolpkg")
    assert out.splitlines()[-2:] == [
        "failed: toolpkg (E: Could not open lock file - open (13: Permission denied))", "continued"]


def test_both_readme_commands_use_it():
    for script in ("serve", "test"):
        text = (ROOT / "scripts" / script).read_text()
        assert "debian-packages.sh" in text and "want_command ffmpeg ffmpeg" in text
    assert "want_library 'libmagic.so.1' libmagic1" in (ROOT / "scripts" / "serve").read_text()
