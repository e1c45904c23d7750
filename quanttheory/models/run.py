"""Run the analysis of a whole checkpoint: in-process, on a process pool, or on dask.distributed.

Tensors are read one at a time (:func:`quanttheory.models.readers.iter_tensors`), cut into
blocks of whole units (:func:`quanttheory.models.tasks.unit_rows`), and the blocks are
submitted with at most ``2 * workers`` in flight, so memory stays bounded by a few blocks
plus the tensor being read.  Block results are summed per tensor in block order, so the
totals do not depend on the executor or on completion order.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from . import MISSING_EXTRA
from .readers import iter_tensors
from .stream import all_finite, count_nonfinite
from .tasks import analyze_block, get_format, parse_granularity, unit_rows

BLOCK_VALUES = 1 << 18  # ~2 MB of float64 per task


@dataclass
class TensorRow:
    """Per-tensor totals (one line of report.csv)."""

    name: str
    shape: tuple
    dtype: str
    rows: int
    values: int
    energy: float = 0.0
    sse: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    cpu_seconds: dict = field(default_factory=dict)
    blocks_left: int = 0
    gguf_type: str = ""  #: GGUF files: the stored GGML type (F32, F16, Q8_0, Q4_0, ...)
    gguf_sqnr: dict = field(default_factory=dict)  #: float GGUF tensors: llama.cpp scheme -> SQNR (dB)
    #: method -> certified lower bound of the tensor's optimal SSE (methods that may stop at a search
    #: budget; equal to ``sse`` when every block was solved exactly)
    sse_lower: dict = field(default_factory=dict)


@dataclass
class ModelResult:
    path: str
    fmt: str
    granularity: str
    affine: bool
    methods: list
    tensors: list
    skipped: list  # (name, shape, dtype, reason)
    nonfinite: list  # names
    seconds: float
    workers: int
    executor: str
    gguf: bool = False  #: the file is GGUF: report.csv has the gguf_type and gguf_* columns
    may_bracket: tuple = ()  #: methods reported with a status column (exact or certified bracket)


def _is_float(dt: np.dtype) -> bool:
    if dt.kind == "f":
        return True
    return dt.name in ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")


class _Local:
    def submit(self, fn, *a):
        return _Done(fn(*a))

    def wait_one(self, pending):
        return pending.popleft()

    def close(self):
        pass


class _Done:
    def __init__(self, v):
        self.v = v

    def result(self):
        return self.v


class _Pool:
    def __init__(self, workers):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.ex = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("forkserver"))

    def submit(self, fn, *a):
        return self.ex.submit(fn, *a)

    def wait_one(self, pending):
        return pending.popleft()

    def close(self):
        self.ex.shutdown(wait=True, cancel_futures=True)


class _Dask:
    def __init__(self, address, timeout):
        try:
            from distributed import Client
        except ImportError:
            raise ValueError(f"--dask needs the optional package 'distributed': {MISSING_EXTRA}") from None
        try:
            self.client = Client(address, timeout=timeout)
        except Exception as exc:
            raise ValueError(f"cannot connect to the Dask scheduler at {address!r} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
        self.own = True

    def submit(self, fn, *a):
        return self.client.submit(fn, *a, pure=False)

    def wait_one(self, pending):
        return pending.popleft()

    def close(self):
        self.client.close()


def _progress(total, quiet):
    if quiet or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="tensor", file=sys.stderr, leave=False)


GGUF_SCHEMES = ("Q8_0", "Q4_0")


def gguf_scheme_sqnr(arr) -> dict:
    """SQNR (dB) of llama.cpp's reference quantizers (``gguf.quants.quantize`` then ``dequantize``,
    blocks of 32 along the last axis) applied to a float tensor: ``{"gguf_q8_0": dB, "gguf_q4_0": dB}``;
    NaN where the last dimension is not a multiple of 32."""
    from .tasks import sqnr_db

    x = np.asarray(arr, dtype=np.float32)
    out = {}
    if x.ndim < 1 or x.shape[-1] % 32:
        return {f"gguf_{q.lower()}": float("nan") for q in GGUF_SCHEMES}
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import dequantize, quantize

    x2 = x.reshape(-1, x.shape[-1])
    step = max(1, (1 << 18) // x2.shape[1])  # rows per chunk: no float64 copy of the whole tensor
    e, sse = 0.0, dict.fromkeys(GGUF_SCHEMES, 0.0)
    for r0 in range(0, x2.shape[0], step):
        c = np.ascontiguousarray(x2[r0:r0 + step])
        c64 = c.astype(np.float64)
        e += float(np.einsum("ij,ij->", c64, c64))
        for q in GGUF_SCHEMES:
            d = dequantize(quantize(c, Q[q]), Q[q]).astype(np.float64).reshape(c.shape) - c64
            sse[q] += float(np.einsum("ij,ij->", d, d))
    for q in GGUF_SCHEMES:
        out[f"gguf_{q.lower()}"] = sqnr_db(e, sse[q])
    return out


def analyze_model(path, fmt: str = "int4", granularity: str = "channel", affine: bool = False,
                  include: str | None = None, workers: int | None = None, dask: str | None = None,
                  quiet: bool = True, block_values: int = BLOCK_VALUES, methods: tuple | None = None,
                  dask_timeout: float = 30.0) -> ModelResult:
    """Exact optimum and baselines for every eligible tensor of the checkpoint at ``path``.

    ``workers``: processes (default ``os.cpu_count()``; 1 = in-process).  ``dask``: a scheduler
    address (``tcp://host:8786``) or a ``distributed.Client``; then ``workers`` is ignored.
    Skipped (listed): non-float tensors, tensors with fewer than 2 dimensions, group sizes that do
    not divide, tensors with NaN/inf (also listed in ``nonfinite``).
    """
    spec0 = get_format(fmt, affine)  # validate before reading anything
    kind, k = parse_granularity(granularity)
    if spec0.block:  # block formats: units are the tensor's rows, cut into blocks along the last axis
        kind, k = "channel", None
        granularity = f"blocks of {spec0.block} along each row"
    rx = None
    if include is not None:
        try:
            rx = re.compile(include)
        except re.error as exc:
            raise ValueError(f"--include is not a valid regular expression: {exc}") from None
    t_start = time.perf_counter()
    if dask is not None:
        if hasattr(dask, "submit"):
            ex = _Dask.__new__(_Dask)
            ex.client = dask
            ex.close = lambda: None
        else:
            ex = _Dask(dask, dask_timeout)
        nw, exname = 0, "dask"
    else:
        nw = int(workers) if workers else (os.cpu_count() or 1)
        if nw < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        ex, exname = (_Local(), "in-process") if nw == 1 else (_Pool(nw), f"process pool ({nw})")
    limit = 2 * max(nw, 2) if dask is None else 64
    rows_out, skipped, nonfinite = [], [], []
    pending: deque = deque()
    bar = _progress(None, quiet)

    def collect(fut):
        br = fut.result()
        tr = by_name[br.tensor]
        tr.energy += br.energy
        for m, v in br.sse.items():
            tr.sse[m] = tr.sse.get(m, 0.0) + v
            tr.seconds[m] = tr.seconds.get(m, 0.0) + br.seconds[m]
            tr.cpu_seconds[m] = tr.cpu_seconds.get(m, 0.0) + br.cpu_seconds.get(m, 0.0)
            if m in spec0.may_bracket:
                tr.sse_lower[m] = tr.sse_lower.get(m, 0.0) + getattr(br, "sse_lower", {}).get(m, v)
        tr.blocks_left -= 1
        if tr.blocks_left == 0 and bar is not None:
            bar.update(1)

    by_name: dict = {}
    is_gguf = os.fspath(path).lower().endswith(".gguf")
    try:
        for info, arr in iter_tensors(path):
            if rx is not None and not rx.search(info.name):
                continue
            dt = np.dtype(arr.dtype)
            if not _is_float(dt):
                skipped.append((info.name, info.shape, info.dtype, "not a float tensor"))
                continue
            if arr.ndim < 2:
                skipped.append((info.name, info.shape, info.dtype, f"{arr.ndim}-D (only tensors with >= 2 "
                                "dimensions are analyzed)"))
                continue
            if arr.size == 0:
                skipped.append((info.name, info.shape, info.dtype, "empty"))
                continue
            try:
                nrows, per = unit_rows(arr.shape, kind, k)
            except ValueError as exc:
                skipped.append((info.name, info.shape, info.dtype, str(exc)))
                continue
            # as loaded for analysis: float32 (float64 only for float64 tensors); a float32 memmap is not
            # copied, bf16/fp16/fp8 become one float32 copy; blocks are converted to float64 one at a time
            x = np.asarray(arr, dtype=np.float64 if dt == np.float64 else np.float32).reshape(nrows, per)
            if not all_finite(x):
                bad = count_nonfinite(x)
                skipped.append((info.name, info.shape, info.dtype, f"{bad} non-finite value(s) (NaN/inf)"))
                nonfinite.append(info.name)
                continue
            if info.name in by_name:
                raise ValueError(f"{path}: duplicate tensor name {info.name!r}")
            amax = max(float(x.max()), -float(x.min())) if spec0.needs_amax else None  # no temporary
            step = max(1, block_values // per)
            starts = range(0, nrows, step)
            tr = TensorRow(info.name, tuple(info.shape), info.dtype, nrows, x.size, blocks_left=len(starts))
            if is_gguf:
                tr.gguf_type = info.dtype
                if info.dtype in ("F32", "F16", "BF16", "F64"):
                    tr.gguf_sqnr = gguf_scheme_sqnr(arr)
            by_name[info.name] = tr
            rows_out.append(tr)
            for bi, s0 in enumerate(starts):
                pending.append(ex.submit(analyze_block, info.name, bi, x[s0:s0 + step], fmt, affine, methods,
                                         amax))
                while len(pending) >= limit:
                    collect(ex.wait_one(pending))
            del x, arr
        while pending:
            collect(ex.wait_one(pending))
    finally:
        for f in pending:
            try:
                f.cancel()
            except Exception:
                pass
        ex.close()
        if bar is not None:
            bar.close()
    spec = get_format(fmt, affine)
    methods_all = [m for m in spec.methods() if m.startswith("exact") or methods is None or m in methods]
    return ModelResult(os.fspath(path), spec.name, granularity, affine, methods_all, rows_out, skipped,
                       nonfinite, time.perf_counter() - t_start, nw, exname, is_gguf, tuple(spec.may_bracket))
