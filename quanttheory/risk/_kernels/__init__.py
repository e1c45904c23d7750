"""Private numba kernels.  Inputs are validated in Python before any call:
kernels assume finite floats, positive scales and valid grids.  All kernels use
``cache=True`` and compile lazily on first call (never at package import)."""
