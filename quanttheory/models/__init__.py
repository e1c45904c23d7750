"""Optimal scales for whole checkpoints (``quanttheory model``, issue 19).

* :mod:`.readers` -- stream the tensors of ``.safetensors``, ``.onnx``, ``.gguf``, ``.npz`` and ``.npy`` files
  one at a time (optional dependencies imported on use);
* :mod:`.tasks` -- pure, picklable per-unit analysis: exact optimum and the toolkit baselines, SQNR and time;
* :mod:`.stream` -- chunked passes for units too long to copy (``--granularity tensor``): no float64
  copy and no sort of a whole tensor;
* :mod:`.run` -- process pool / dask.distributed execution, progress bar;
* :mod:`.report` -- report.csv, summary.md and the per-layer SQNR figure, written atomically.

See ``docs/models.md``.
"""

MISSING_EXTRA = "pip install 'quanttheory[models]'"
