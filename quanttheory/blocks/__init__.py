"""Block-scaled formats (MX, NVFP4, group-wise INT): definitions, exact expected error of
every block-scale rule for iid laws, and per-block optimal scales on data.

See ``docs/blocks.md``.  Submodules import lazily (nothing heavy at ``import quanttheory``).
"""

from .spec import (RULES, SCALE_FORMATS, BlockFormat, BlockQuantized, block_format_names, block_scales,
                   element_format, get_block_format, quantize_blocks)

__all__ = ["RULES", "SCALE_FORMATS", "BlockFormat", "BlockQuantized", "block_format_names", "block_scales",
           "element_format", "get_block_format", "quantize_blocks", "block_mse", "BlockMSE", "optimal_clip",
           "block_mse_4over6",
           "block_data_report", "oracle_scales"]


def __getattr__(name):
    if name in ("block_mse", "BlockMSE", "optimal_clip", "monte_carlo_block_mse"):
        from . import expectation

        return getattr(expectation, name)
    if name == "block_mse_4over6":
        from . import expectation_min

        return expectation_min.block_mse_4over6
    if name in ("block_data_report", "oracle_scales", "BlockDataReport"):
        from . import data

        return getattr(data, name)
    raise AttributeError(name)
