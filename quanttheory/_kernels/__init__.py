"""Private numba kernels of the SQR checker (``sqr_jumps``), until the SQR split moves them
into ``quanttheory/sqr/``; the risk kernels live in :mod:`quanttheory.risk._kernels`, the
data-scan kernel in :mod:`quanttheory.laws._kernels`.  Inputs are validated in Python
before any call; all kernels use ``cache=True`` and compile lazily on first call."""
