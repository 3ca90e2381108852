"""Images the loader marked unfit for quantification are refused by the feature engine."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radgui.errors import FeatureExtractionError
from radgui.features import extract
from radgui.io import Volume


def _volume(quantitative: bool) -> Volume:
    rng = np.random.default_rng(0)
    img = sitk.GetImageFromArray(rng.normal(0, 50, (12, 20, 20)).astype(np.float32))
    meta = {"name": "secondary capture", "quantitative": quantitative,
            "warnings": ["derived/secondary image (ImageType DERIVED\\SECONDARY): excluded from quantification"]}
    return Volume(img, "CT", meta)


def test_nonquantitative_volume_is_refused_with_the_reason():
    mask = np.zeros((12, 20, 20), bool)
    mask[4:8, 6:14, 6:14] = True
    with pytest.raises(FeatureExtractionError, match="secondary capture: not fit for radiomics.*excluded from"):
        extract(_volume(False), {"tumour": mask}, "ct-original")
    df = extract(_volume(False), {"tumour": mask}, "ct-original", allow_nonquantitative=True)
    assert "excluded from quantification" in " ".join(df.attrs["provenance"]["warnings"])
    assert not extract(_volume(True), {"tumour": mask}, "ct-original").empty
