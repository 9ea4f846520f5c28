"""Reports: RD and training figures, the paper's Tables I and II (CSV, Markdown, LaTeX),
and the JupyterLab widgets that compare reconstructions."""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "figures": ("plot_rd_curves", "rd_curves_figure", "image_rd_figure", "visual_comparison", "visual_figures",
                "pair_figure", "save_figure"),
    "tables": ("table_i", "table_ii", "write_table_i", "write_table_ii", "write_tables", "to_latex"),
    "display": ("png",),
    "widgets": ("ComparisonWidget", "Gallery", "gallery_from_folder"),
})
