"""A file decodes to the evaluation's decoded image bit for bit, and its size is the
RD table's bytes plus the header's exact size (learned); a JPEG file is the RD table's
JPEG itself."""
import numpy as np
import pytest

from jndlc_helpers.atjnd import codecs as C
from jndlc_helpers.atjnd import fileformat as FF
from jndlc_helpers.atjnd import models as MD
from jndlc_helpers.evaluation import evaluate as E
from jndlc_helpers.files import load_rgb
from jndlc_helpers.jpeg import evaluate as JE
from jndlc_helpers.jpeg.steps import proxy


@pytest.mark.parametrize("size", [(64, 64), (37, 53)])
def test_learned_file_is_the_evaluations_bitstream_plus_its_header(smoke_family, make_rgb, tmp_path, size):
    rgb = make_rgb(*size, seed=2)
    ref = smoke_family[1]
    table = E.evaluate_model(MD.load(ref), {"img": rgb}, recon_dir=tmp_path)
    coded = C.code_learned(ref, rgb)
    header, strings = FF.unpack(coded.data)
    n_bytes = table["bpp"].iloc[0] * size[0] * size[1] / 8
    assert coded.stream_bytes == sum(map(len, strings)) == pytest.approx(n_bytes)
    assert len(coded.data) == coded.stream_bytes + FF.header_size(header, strings)
    decoded = C.decode_learned(coded.data, ref)
    assert np.array_equal(decoded, load_rgb(tmp_path / "img.png"))
    assert np.array_equal(decoded, coded.rgb) and decoded.shape == rgb.shape


def test_a_coarser_step_round_trips_and_names_its_model(smoke_family, smoke_models, make_rgb):
    rgb = make_rgb(48, 80, seed=4)
    coded = C.code_learned(smoke_family[-1], rgb, step=1.7)
    header, _ = FF.unpack(coded.data)
    assert header.step == pytest.approx(1.7, abs=1e-3) and header.digest == smoke_family[-1].digest
    assert np.array_equal(C.decode_learned(coded.data, smoke_family[-1]), coded.rgb)
    with pytest.raises(MD.ModelError, match="refusing to decode with another model"):
        C.decode_learned(coded.data, smoke_family[0])
    assert C.model_for(header, smoke_models) == smoke_family[-1]
    assert C.model_for(header, None) == smoke_family[-1]  # found by digest under data/pretrained


def test_jpeg_file_is_the_rd_tables_jpeg(make_rgb):
    rgb = make_rgb(40, 56, seed=5)
    coded = C.code_jpeg(rgb, 37)
    assert coded.data == E.encode_anchor(rgb, "jpeg", 37)
    assert coded.bpp == pytest.approx(E.code_anchor(rgb, "jpeg", 37)["bpp"])
    assert np.array_equal(C.decode_jpeg(coded.data), E.decode_anchor(coded.data))
    pre = C.code_jpeg(rgb, 37, "classical")
    assert pre.data == JE.code_image(rgb, JE.classical_method(proxy()), 37)["data"]
    ssim = C.code_jpeg(rgb, 37, "classical-ssim")  # the SSIM-weighted anchor, by name too
    assert ssim.data != pre.data
    assert ssim.data == JE.code_image(rgb, JE.classical_method(proxy(), ssim_weighted=True), 37)["data"]
    with pytest.raises(ValueError, match="not a weights file"):
        C.preprocessor_path("no-such-preprocessor")
