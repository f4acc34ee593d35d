"""What the seam contract tests compare against: the versions requirements.txt pins."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def pinned(distribution: str) -> str:
    """The version requirements.txt pins for this distribution."""
    for line in REQUIREMENTS.read_text().splitlines():
        name, _, pin = line.partition("==")
        if name.strip().lower() == distribution.lower():
            return pin.strip()
    raise LookupError(f"{distribution} is not pinned in requirements.txt")


def assert_installed_as_pinned(distribution: str) -> None:
    """The installed version is the pinned one (a seam was checked against that version only)."""
    assert version(distribution) == pinned(distribution), (
        f"{distribution} {version(distribution)} installed, {pinned(distribution)} pinned: re-check "
        f"wamulti/seams/ for it before moving the pin")
