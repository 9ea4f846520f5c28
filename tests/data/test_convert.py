import csv
import inspect
import subprocess

import numpy as np
import pytest
from PIL import Image

from jndlc_helpers.data import convert
from jndlc_helpers.data.convert import ConvertError, FFmpegNotFoundError, convert_jpeg_jnd, convert_videoset
from jndlc_helpers.files import load_rgb, read_json
from jndlc_helpers.data.labellers import jpeg_roundtrip, psnr
from jndlc_helpers.data.pairs import JNDPairDataset, find_pairs
from jndlc_helpers.data.split import source_of


def _csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def jpeg_src(tmp_path, make_rgb):
    src = tmp_path / "src"
    src.mkdir()
    for i, name in enumerate(["img01", "img02", "img03", "img04"]):
        Image.fromarray(make_rgb(48, 64, seed=i)).save(src / f"{name}.png")
    Image.fromarray(make_rgb(48, 64, seed=9)[..., 0]).save(src / "img05.png")  # grayscale
    return src


# ---------------------------------------------------------------- JPEG JND sets

def test_convert_jpeg_jnd(tmp_path, jpeg_src):
    labels = _csv(tmp_path / "jnd.csv", ["image", "qf"],
                  [["img01.png", 30], ["img02.png", 55], ["img03", 80], ["img04.png", 12], ["img05.png", 40]])
    out = convert_jpeg_jnd(jpeg_src, labels, tmp_path / "out", test_fraction=0.4, progress=False)
    split = read_json(out / "split.json")
    assert len(split["test"]) == 2 and len(split["train"]) == 3
    qf = {"img01": 30, "img02": 55, "img03": 80, "img04": 12, "img05": 40}
    for side in ("train", "test"):
        for ref_p, jnd_p in find_pairs(out / side):
            ref, jnd = load_rgb(ref_p), load_rgb(jnd_p)
            assert np.array_equal(ref, load_rgb(jpeg_src / f"{ref_p.stem}.png"))  # Ref = source
            assert np.array_equal(jnd, jpeg_roundtrip(ref, qf[ref_p.stem])[0])  # JND1 = JPEG at QF
    man = read_json(out / "manifest.json")
    assert man["complete"] and man["jpeg"]["subsampling"] == "4:2:0"
    assert man["jpeg"]["optimize"] is False and man["jpeg"]["progressive"] is False
    rows = list(csv.DictReader(open(out / "labels.csv")))
    assert {r["image"]: int(r["qf"]) for r in rows} == qf
    assert list(rows[0])[:12] == list(convert.LABEL_COLUMNS)
    assert len(JNDPairDataset(out, "train", patch_size=32)) == 3


def test_convert_jpeg_jnd_custom_columns_and_fixed_split(tmp_path, jpeg_src):
    labels = _csv(tmp_path / "mcl.csv", ["Name", "JND1_QF"],
                  [[f"img0{i}", 20 + i] for i in range(1, 6)])
    out = convert_jpeg_jnd(jpeg_src, labels, tmp_path / "out", split="test", name_column="Name",
                           qf_column="jnd1_qf", progress=False)
    assert len(find_pairs(out / "test")) == 5 and not (out / "train" / "Ref").exists()


@pytest.mark.parametrize("rows,match", [
    ([["img01", ""]], r"line 2: missing qf for 'img01'"),
    ([["img01", 0]], r"line 2: qf=0 for 'img01' is outside 1\.\.100"),
    ([["img01", 30], ["img02", 101]], r"line 3: qf=101 for 'img02' is outside 1\.\.100"),
    ([["img01", "abc"]], r"line 2: qf='abc' for 'img01' is not a number"),
    ([["img01", "30.5"]], r"must be an integer"),
    ([["img99", 30]], r"line 2: unknown image 'img99'"),
    ([["img01", 30], ["img01", 40]], r"line 3: 'img01' already labelled on line 2"),
    ([["img01", 30]], r"no label for 4 image\(s\)"),
])
def test_convert_jpeg_jnd_bad_labels(tmp_path, jpeg_src, rows, match):
    labels = _csv(tmp_path / "bad.csv", ["image", "qf"], rows)
    with pytest.raises(ConvertError, match=match) as e:
        convert_jpeg_jnd(jpeg_src, labels, tmp_path / "out", progress=False)
    assert "bad.csv" in str(e.value)
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_convert_jpeg_jnd_bad_inputs(tmp_path, jpeg_src):
    labels = _csv(tmp_path / "l.csv", ["picture", "quality"], [["img01", 30]])
    with pytest.raises(ConvertError, match="no image/source name column"):
        convert_jpeg_jnd(jpeg_src, labels, tmp_path / "o", progress=False)
    with pytest.raises(ConvertError, match=r"no column 'qf'"):
        convert_jpeg_jnd(jpeg_src, labels, tmp_path / "o", name_column="picture", progress=False)
    with pytest.raises(ConvertError, match="label CSV not found"):
        convert_jpeg_jnd(jpeg_src, tmp_path / "none.csv", tmp_path / "o", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConvertError, match="no source images"):
        convert_jpeg_jnd(tmp_path / "empty", labels, tmp_path / "o", progress=False)
    (jpeg_src / "img02.png").write_bytes(b"not a png")
    good = _csv(tmp_path / "g.csv", ["image", "qf"], [[f"img0{i}", 50] for i in range(1, 6)])
    with pytest.raises(ConvertError, match=r"img02\.png: unreadable"):
        convert_jpeg_jnd(jpeg_src, good, tmp_path / "o", progress=False)


# ---------------------------------------------------------------- VideoSet style

def _ffmpeg_or_skip():
    try:
        exe = convert.find_ffmpeg()
    except FFmpegNotFoundError as e:
        pytest.skip(f"no ffmpeg at all: {e}")
    if not convert.has_libx264(exe):
        pytest.skip(f"{exe} has no libx264")
    return exe


def _clip(exe, path, fmt_args, pattern="testsrc2"):
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"{pattern}=size=64x48:rate=25", "-frames:v", "5", "-pix_fmt", "yuv420p",
                    *fmt_args, str(path)], check=True)
    return path


@pytest.fixture
def clips(tmp_path):
    exe = _ffmpeg_or_skip()
    d = tmp_path / "clips"
    _clip(exe, d / "SRC001_1080p.y4m", [])  # lossless container: raw YUV frames
    _clip(exe, d / "SRC001_720p.y4m", [], "mandelbrot")
    _clip(exe, d / "720p" / "SRC002.y4m", [], "rgbtestsrc")  # <resolution>/<source> layout
    _clip(exe, d / "SRC_3_64x48.yuv", ["-f", "rawvideo"], "smptebars")  # raw .yuv, size from label
    return d


def test_convert_videoset(tmp_path, clips):
    labels = _csv(tmp_path / "videoset.csv", ["source", "resolution", "qp"],
                  [["SRC001", "1080p", 38], ["SRC001", "720p", 24], ["SRC002", "720p", 45],
                   ["SRC_3", "64x48", 30]])
    out = convert_videoset(clips, labels, tmp_path / "out", frames=(0, 3), test_fraction=0.34,
                           progress=False)
    stems = {k: [r.stem for r, _ in find_pairs(out / k)] for k in ("train", "test")}
    all_stems = sorted(stems["train"] + stems["test"])
    assert "SRC001_1080p_f0000" in all_stems and "SRC-3_64x48_f0003" in all_stems
    assert len(all_stems) == 8
    src = {k: {source_of(s) for s in v} for k, v in stems.items()}
    assert src["test"] and src["train"] and not src["train"] & src["test"]  # by source
    rows = {r["image"]: r for r in csv.DictReader(open(out / "labels.csv"))}
    assert int(rows["SRC002_720p_f0003"]["qp"]) == 45
    side = "train" if "SRC001" in src["train"] else "test"
    ref = load_rgb(out / side / "Ref" / "SRC001_1080p_f0000.png")
    jnd = load_rgb(out / side / "JND1" / "SRC001_1080p_f0000.png")
    assert ref.shape == jnd.shape == (48, 64, 3)
    assert 15 < psnr(ref, jnd) < 45  # a visible QP-38 encode, not a copy, not garbage
    ref_lo = load_rgb(out / side / "JND1" / "SRC001_720p_f0000.png")
    assert psnr(load_rgb(out / side / "Ref" / "SRC001_720p_f0000.png"), ref_lo) > psnr(ref, jnd) - 5
    man = read_json(out / "manifest.json")
    assert man["x264"]["pix_fmt"] == "yuv420p" and "-qp" in man["x264"]["rate_control"]
    assert man["frames"] == [0, 3] and man["complete"]


def test_convert_videoset_frames_differ(tmp_path, clips):
    labels = _csv(tmp_path / "v.csv", ["source", "resolution", "qp"], [["SRC001", "1080p", 0]])
    out = convert_videoset(clips, labels, tmp_path / "out", frames=(0, 4), split="train", progress=False)
    f0 = load_rgb(out / "train" / "Ref" / "SRC001_1080p_f0000.png")
    f4 = load_rgb(out / "train" / "Ref" / "SRC001_1080p_f0004.png")
    assert not np.array_equal(f0, f4)  # testsrc2 moves
    # QP 0 is lossless in x264: JND1 == Ref
    assert np.array_equal(f4, load_rgb(out / "train" / "JND1" / "SRC001_1080p_f0004.png"))


@pytest.mark.parametrize("rows,match", [
    ([["SRC001", "1080p", 52]], r"line 2: qp=52 for 'SRC001/1080p' is outside 0\.\.51"),
    ([["SRC001", "1080p", -1]], r"outside 0\.\.51"),
    ([["SRC001", "1080p", ""]], r"line 2: missing qp"),
    ([["SRC001", "1080p", 30], ["SRC009", "1080p", 30]], r"line 3: unknown source 'SRC009'"),
    ([["SRC001", "360p", 30]], r"unknown source 'SRC001'.*at '360p'"),
])
def test_convert_videoset_bad_labels(tmp_path, clips, rows, match):
    labels = _csv(tmp_path / "vs.csv", ["source", "resolution", "qp"], rows)
    with pytest.raises(ConvertError, match=match) as e:
        convert_videoset(clips, labels, tmp_path / "out", progress=False)
    assert "vs.csv" in str(e.value)


def test_convert_videoset_frame_out_of_range(tmp_path, clips):
    labels = _csv(tmp_path / "v.csv", ["source", "qp"], [["SRC_3_64x48", 30]])
    with pytest.raises(ConvertError, match="raw .yuv needs a resolution"):
        convert_videoset(clips, labels, tmp_path / "out", progress=False)
    labels = _csv(tmp_path / "v2.csv", ["source", "resolution", "qp"], [["SRC001", "1080p", 30]])
    with pytest.raises(ConvertError, match=r"frame 9 requested, the clip has 5"):
        convert_videoset(clips, labels, tmp_path / "out", frames=(0, 9), progress=False)


def test_convert_videoset_missing_column(tmp_path, clips):
    labels = _csv(tmp_path / "v.csv", ["clip", "qp"], [["SRC001", 30]])
    with pytest.raises(ConvertError, match=r"v\.csv: no column 'source'"):
        convert_videoset(clips, labels, tmp_path / "out", progress=False)
    labels = _csv(tmp_path / "v.csv", ["clip", "JND_QP"], [["SRC001_1080p", 30]])
    out = convert_videoset(clips, labels, tmp_path / "out", source_column="clip", qp_column="jnd_qp",
                           split="test", progress=False)
    assert [r.stem for r, _ in find_pairs(out / "test")] == ["SRC001-1080p_f0000"]


def test_find_ffmpeg_missing(monkeypatch):
    import imageio_ffmpeg

    def no_exe():
        raise RuntimeError("no binary")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_exe)
    monkeypatch.setattr(convert.shutil, "which", lambda name: None)
    with pytest.raises(FFmpegNotFoundError, match=r"pip install imageio-ffmpeg.*apt install ffmpeg"):
        convert.find_ffmpeg()


def test_convert_videoset_takes_every_frame_strideth_frame_by_default(tmp_path, clips):
    labels = _csv(tmp_path / "v.csv", ["source", "resolution", "qp"], [["SRC001", "1080p", 30], ["SRC002", "720p", 30]])
    out = convert_videoset(clips, labels, tmp_path / "out", split="train", frame_stride=2, progress=False)
    stems = [r.stem for r, _ in find_pairs(out / "train")]
    assert stems == [f"SRC{s}_{r}_f000{f}" for s, r in (("001", "1080p"), ("002", "720p")) for f in (0, 2, 4)]
    plain = convert_videoset(clips, labels, tmp_path / "plain", frames=(2,), split="train", progress=False)
    for sub in ("Ref", "JND1"):  # the frame picked by stride is the frame picked by index
        assert np.array_equal(load_rgb(out / "train" / sub / "SRC001_1080p_f0002.png"),
                              load_rgb(plain / "train" / sub / "SRC001_1080p_f0002.png"))
    assert read_json(out / "manifest.json")["frames"] == "every 2th frame of each clip (frame_stride)"
    split = convert_videoset(clips, labels, tmp_path / "split", frame_stride=2, test_fraction=0.5, progress=False)
    test = [r.stem for r, _ in find_pairs(split / "test")]
    assert len(test) == 1 and test[0].endswith("_f0000")  # a test clip gives its first frame only
    assert len([r for r, _ in find_pairs(split / "train")]) == 3 and read_json(split / "split.json")["test"] == test
    assert convert.FRAME_STRIDE == 30 and inspect.signature(convert_videoset).parameters["frames"].default is None
