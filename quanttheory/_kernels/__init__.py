"""Private numba kernels.  Inputs are validated in Python before any call:
kernels assume finite floats, positive scales and valid grids.  All kernels use
``cache=True`` and compile lazily on first call (never at package import)."""
BLOCK_SIZE = 4096  # blocked-summation block of the kernels (kept here so importing it needs no numba)
