"""Data: JND pairs on disk and their source-wise split, converters from the public JND
sets, the embedded proxy-labelled set and its labellers, Kodak, the base-model corpus."""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "pairs": ("JNDPairDataset", "UnlabelledDataset", "mixed_dataset", "find_pairs", "PairError"),
    "split": ("split_by_source", "split_folder", "load_or_make_split", "source_of"),
    "convert": ("convert_jpeg_jnd", "convert_videoset", "read_labels", "write_labels"),
    "embedded": ("build_embedded", "build_smoke"),
    "labellers": ("label_image", "namm_profile", "cvvdp_jod"),
    "kodak": ("fetch_kodak", "kodak_paths", "first_image"),
    "prepare": ("prepare_data", "check_decodes"),
    "corpus": ("build_corpus", "build_jnd_photos"),
})
