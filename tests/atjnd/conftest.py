"""Shared here: the smoke base models (tiny hyperpriors) and a written test image."""
from pathlib import Path

import pytest

from jndlc_helpers.atjnd import models as MD

SMOKE_MODELS = Path(__file__).resolve().parents[2] / "data" / "pretrained" / "smoke"


@pytest.fixture(scope="session")
def smoke_family():
    return MD.family(SMOKE_MODELS, "mse")


@pytest.fixture(scope="session")
def smoke_models() -> Path:
    return SMOKE_MODELS
