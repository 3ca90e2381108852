"""Shared fixtures: paths to the shared sample data, skipping cleanly when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RADGUI_SHARED", REPO.parent / "shared"))
CASES = SHARED / "data" / "cases"
PET_DRO = SHARED / "data" / "pet-suv-dro"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared sample data not found at {path} (set RADGUI_SHARED)")
    return path


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    """Folder of the real sample cases (lung1, brain1, breast1)."""
    return _need(CASES)


@pytest.fixture(scope="session")
def pet_dro_dir() -> Path:
    """Folder of the 17 PET SUV digital reference objects."""
    return _need(PET_DRO)


@pytest.fixture(scope="session")
def lung1(cases_dir):
    """(image path, label path) of the lung CT case."""
    return cases_dir / "lung1_image.nrrd", cases_dir / "lung1_label.nrrd"


@pytest.fixture(scope="session")
def brain1(cases_dir):
    """(image path, label path) of the brain MR case (flipped y direction)."""
    return cases_dir / "brain1_image.nrrd", cases_dir / "brain1_label.nrrd"

