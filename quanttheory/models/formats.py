"""Number formats of ``quanttheory model --format`` beyond the integer grids.

Two families, each a factory returning a :class:`~quanttheory.models.tasks.FormatSpec` whose
callables map a 2-D float64 block of rows to the per-row sum of squared errors (data units^2):

* **level-set formats** (``e4m3``, ``e5m2``, ``e2m3``, ``e3m2``, ``e2m1``, ``nf4``, ``int<b>n``; any
  name of :func:`quanttheory.formats.get_format`): one real scale per unit (tensor, channel or
  group, as ``--granularity``), ``Q(x) = s q(x / s)`` with ``q`` the nearest level.

  - ``exact``: :func:`quanttheory.risk.format_data.optimal_scale_format_data` per unit (the exact
    global minimizer of the MSE over ``s > 0``); units longer than
    :data:`~quanttheory.models.tasks.STREAM_MIN` (``--granularity tensor``) use
    :func:`quanttheory.risk.format_stream.optimal_scale_format_stream`, the same optimum from chunked
    passes over the unit as loaded (bounded memory: no float64 copy, no sort);
  - ``amax``: ``s = max|x| / level_max`` (no clipping);
  - ``sweep39``, ``sweep126``: ``s_i = (max|x| i / K) / level_max``, ``i = 1..K``, exact SSE of each,
    best kept (the MSE observers of common toolkits).

* **block formats** (``mxfp4``, ``mxfp6``, ``mxfp8`` (= ``mxfp8_e4m3``), ``mxfp8_e5m2``, ``mxint8``,
  ``nvfp4``, ``int4_g32`` / ``int4_g64`` / ``int4_g128``; ``-`` and ``_`` are interchangeable):
  rows are the tensor's rows (``reshape(shape[0], -1)``), cut into blocks of ``k`` consecutive
  values (a short last block is padded with zeros: zeros change neither the block absmax nor
  the error); each block has its own scale in the format's scale format (E8M0, E4M3 times one
  FP32 tensor scale ``S = amax(tensor) / (448 * 6)``, or fp16), see :mod:`quanttheory.blocks`.

  - ``exact``: the per-block optimal representable scale (``rule="oracle"``, exhaustive over
    E8M0 exponents and the 126 E4M3 codes; for fp16 scales the library's oracle is the real
    optimum rounded to its two fp16 neighbours, not always the fp16 optimum, so these formats
    also report ``exact_real``, the optimum over all real scales: a lower bound for every method);
  - the rules of :mod:`quanttheory.blocks` (``floor`` = OCP MX, ``ceil`` = RCEIL, ``round``, and
    for E2M1 elements with E4M3 scales ``4over6``; ``clip`` = amax / lmax for fp16 scales);
  - for E4M3 and fp16 scales, ``sweep39`` and ``sweep126``: per block, ``c = i / K`` times the
    block absmax mapped to ``lmax`` (rule ``clip``), best ``c`` per block.  (With E8M0 scales a
    sweep only visits a few powers of two, all of which the oracle enumerates: omitted.)
"""

from __future__ import annotations

import numpy as np

from .tasks import FormatSpec, _f64, _is_long

SWEEPS_FMT = (39, 126)


# --------------------------------------------------------------------------- level-set formats
def _levelset(name):
    from ..formats import get_format

    return get_format(name)


def _ls_sse(rows, scales, fmt):
    if _is_long(rows):  # one unit at a time, chunked
        from .stream import levelset_sse

        return np.array([levelset_sse(r, [sc], fmt)[0] for r, sc in zip(rows, np.asarray(scales, dtype=np.float64))])
    rows = _f64(rows)
    s = np.asarray(scales, dtype=np.float64)[:, None]
    err = rows - s * fmt.quantize(rows / s)
    return np.einsum("ij,ij->i", err, err)


def _ls_amax_scales(rows, fmt):
    m = np.maximum(rows.max(axis=1).astype(np.float64), -rows.min(axis=1).astype(np.float64)) / fmt.level_max
    return np.where(m > 0, m, 1.0)


def _ls_exact(name):
    def exact(rows):
        from ..risk.format_data import optimal_scale_format_data

        fmt = _levelset(name)
        if _is_long(rows):  # one unit at a time, as loaded: chunked passes, bounded memory
            from ..risk.format_stream import optimal_scale_format_stream

            res = [optimal_scale_format_stream(r, fmt) for r in rows]
            return np.array([float(q.mse) * rows.shape[1] for q in res])  # SSE from the direct pass
        r = optimal_scale_format_data(rows, fmt, axis=0)
        return _ls_sse(rows, np.atleast_1d(r.scale), fmt)
    return exact


def _ls_amax(name):
    def base(rows):
        fmt = _levelset(name)
        return _ls_sse(rows, _ls_amax_scales(rows, fmt), fmt)
    return base


def _ls_sweep(name, K):
    def base(rows):
        fmt = _levelset(name)
        top = np.maximum(rows.max(axis=1).astype(np.float64), -rows.min(axis=1).astype(np.float64))
        if _is_long(rows):  # every candidate in one chunked pass per unit
            from .stream import levelset_sse

            out = np.empty(rows.shape[0])
            for j, r in enumerate(rows):
                s = top[j] * np.arange(1, K + 1) / K / fmt.level_max
                out[j] = levelset_sse(r, np.where(s > 0, s, 1.0), fmt).min()
            return out
        best = np.full(rows.shape[0], np.inf)
        for i in range(1, K + 1):
            s = top * i / K / fmt.level_max
            s = np.where(s > 0, s, 1.0)
            best = np.minimum(best, _ls_sse(rows, s, fmt))
        return best
    return base


def levelset_spec(name: str) -> FormatSpec:
    fmt = _levelset(name)  # validates the name
    b = {"amax": _ls_amax(name)}
    for k in SWEEPS_FMT:
        b[f"sweep{k}"] = _ls_sweep(name, k)
    return FormatSpec(fmt.name, _ls_exact(name), b)


# --------------------------------------------------------------------------- block formats
def block_name(name: str) -> str | None:
    """Canonical block-format preset for ``name`` (``int4-g128`` -> ``int4_g128``), or None."""
    from ..blocks.spec import _ALIASES, block_format_names

    key = str(name).strip().lower().replace("-", "_")
    if key == "int4":  # an integer grid in this command, not the blocks' int4_g128 alias
        return None
    key = _ALIASES.get(key, key)
    return key if key in block_format_names() else None


def _padded(rows, k):
    nr, n = rows.shape
    rem = n % k
    if rem:
        rows = np.concatenate([rows, np.zeros((nr, k - rem))], axis=1)
    return rows


def _tensor_scale(bf, amax):
    if bf.scale_format != "e4m3":
        return None
    return amax / (448.0 * bf.lmax) if amax > 0 else 1.0


def _blk_rule_sse(bf, rows, amax, rule, c=1.0, per_block=False):
    from ..blocks import quantize_blocks

    x = _padded(rows, bf.block)
    if bf.scale_format == "e4m3" and amax > 0:  # the default S = amax / (448 lmax) as a real number
        q = quantize_blocks(x, bf, rule=rule, c=c, axis=-1, tensor_amax=amax).values
    else:
        q = quantize_blocks(x, bf, rule=rule, c=c, axis=-1, tensor_scale=_tensor_scale(bf, amax)).values
    e = (x - q) ** 2
    if per_block:
        return e.reshape(x.shape[0], -1, bf.block).sum(axis=-1)
    return np.einsum("ij->i", e)


BLOCK_COLS = 1 << 16  # long rows of block formats: columns per chunk (whole blocks)


def _by_columns(bf, rows, f):
    """``f(float64 chunk) -> per-row SSE`` summed over column chunks of whole blocks (blocks are
    quantized independently, so the sum is the row's SSE; only long rows are cut)."""
    if not _is_long(rows):
        return f(_f64(rows))
    w = bf.block * max(1, BLOCK_COLS // bf.block)
    out = np.zeros(rows.shape[0])
    for c0 in range(0, rows.shape[1], w):
        out += f(_f64(rows[:, c0:c0 + w]))
    return out


def _blk_method(name, rule, scale_format=None):
    def fn(rows, amax):
        from ..blocks import get_block_format

        bf = get_block_format(name, scale_format=scale_format)
        return _by_columns(bf, rows, lambda x: _blk_rule_sse(bf, x, amax, rule))
    return fn


def _blk_sweep(name, K):
    def fn(rows, amax):
        from ..blocks import get_block_format

        bf = get_block_format(name)

        def f(x):
            best = None
            for i in range(1, K + 1):
                e = _blk_rule_sse(bf, x, amax, "clip", c=i / K, per_block=True)
                best = e if best is None else np.minimum(best, e)
            return best.sum(axis=1)
        return _by_columns(bf, rows, f)
    return fn


def block_spec(name: str) -> FormatSpec:
    from ..blocks import get_block_format

    bf = get_block_format(name)
    extra, b = {}, {}
    if bf.scale_format == "fp16":
        extra["exact_real"] = _blk_method(name, "oracle", scale_format="real")
    if bf.scale_format == "e8m0":
        rules = ["floor", "ceil", "round"]
    elif bf.scale_format == "e4m3":
        rules = ["round", "ceil", "floor"] + (["4over6"] if bf.element == "e2m1" else [])
    else:
        rules = ["clip"]
    for r in rules:
        b[r if r != "clip" else "amax"] = _blk_method(name, r)
    if bf.scale_format in ("e4m3", "fp16"):
        for k in SWEEPS_FMT:
            b[f"sweep{k}"] = _blk_sweep(name, k)
    return FormatSpec(bf.name, _blk_method(name, "oracle"), b, extra, block=bf.block, needs_amax=True)
