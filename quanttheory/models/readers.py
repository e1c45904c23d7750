"""Checkpoint readers: yield ``(name, array)`` one tensor at a time.

Each reader opens the file lazily (memory map where the format allows) and
materializes one tensor per ``next()``, so peak memory is about the largest tensor
(the analysis converts it to float32 at most, never to a whole float64 copy), whatever the checkpoint size.

==============  ===========================================================================
``.safetensors`` header parsed (8-byte little-endian length + JSON), tensors memory-mapped
                 with ``numpy.memmap``; ``BF16`` and ``F8_E4M3``/``F8_E5M2`` through ml_dtypes
``.onnx``        initializers of the graph and subgraphs, protobuf walked over a memory map
                 (:mod:`._onnx_wire`; no ``onnx`` needed); external data files memory-mapped
``.gguf``        ``gguf.GGUFReader``; quantized tensors (Q4_0, Q8_0, K-quants...) dequantized
                 with ``gguf.quants.dequantize`` (their storage type is reported)
``.npz``/``.npy`` ``numpy.load`` (``mmap_mode='r'`` for ``.npy``)
==============  ===========================================================================

Errors (missing, empty, truncated, corrupt file; unknown extension; missing optional
package) are :class:`ValueError` with a one-line message.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import MISSING_EXTRA

EXTENSIONS = (".safetensors", ".onnx", ".gguf", ".npz", ".npy")


@dataclass(frozen=True)
class TensorInfo:
    """One stored tensor: name, shape, storage dtype (as the file names it)."""

    name: str
    shape: tuple
    dtype: str


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"reading this file needs the optional package '{module.split('.')[0]}': "
                         f"{MISSING_EXTRA}") from None


def _check_file(path: str) -> int:
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, expected a checkpoint file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{path}: not readable (permission denied)")
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"{path}: empty file")
    return size


# ------------------------------------------------------------------ safetensors
_ST_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "I64": "int64", "I32": "int32",
              "I16": "int16", "I8": "int8", "U8": "uint8", "U16": "uint16", "U32": "uint32", "U64": "uint64",
              "BOOL": "bool"}
_ST_ML = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}


def _st_dtype(code: str, path: str):
    if code in _ST_DTYPES:
        return np.dtype(_ST_DTYPES[code]).newbyteorder("<")
    if code in _ST_ML:
        ml = _need("ml_dtypes")
        return np.dtype(getattr(ml, _ST_ML[code]))
    raise ValueError(f"{path}: unsupported safetensors dtype {code!r}")


def _st_header(path: str, size: int) -> tuple[dict, int]:
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: truncated safetensors file (no header length)")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8 or n > 100_000_000:
            raise ValueError(f"{path}: corrupt safetensors file (header length {n} exceeds the file size {size})")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{path}: corrupt safetensors file (header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: corrupt safetensors file (header is not a JSON object)")
    header.pop("__metadata__", None)
    base = 8 + n
    for name, meta in header.items():
        try:
            b, e = (int(v) for v in meta["data_offsets"])
            shape = tuple(int(d) for d in meta["shape"])
            str(meta["dtype"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: corrupt safetensors file (bad entry for tensor {name!r})") from None
        if base + e > size or b > e:
            raise ValueError(f"{path}: truncated safetensors file (tensor {name!r} ends at byte {base + e}, "
                             f"file has {size})")
    return header, base


def _read_safetensors(path: str, size: int) -> Iterator[tuple[TensorInfo, np.ndarray]]:
    header, base = _st_header(path, size)
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        meta = header[name]
        b, e = meta["data_offsets"]
        shape = tuple(meta["shape"])
        info = TensorInfo(name, shape, meta["dtype"])
        dt = _st_dtype(meta["dtype"], path)
        count = int(np.prod(shape, dtype=np.int64))
        if count * dt.itemsize != e - b:
            raise ValueError(f"{path}: corrupt safetensors file (tensor {name!r}: {e - b} bytes for shape {shape} "
                             f"of {meta['dtype']})")
        if count == 0:
            yield info, np.zeros(shape, dtype=dt)
            continue
        yield info, np.memmap(path, dtype=dt, mode="r", offset=base + b, shape=shape)


# ------------------------------------------------------------------ ONNX
def _read_onnx(path: str, size: int) -> Iterator[tuple[TensorInfo, np.ndarray]]:
    """Initializers and ``Constant`` values of the graph and its subgraphs, streamed: the protobuf
    wire format is walked over a memory map (:mod:`._onnx_wire`), the whole model is never parsed
    into memory, and each tensor is a view of its own bytes (``raw_data``, packed ``float_data``,
    or an external-data file next to the model)."""
    from ._onnx_wire import OnnxFile

    f = OnnxFile(path, size)
    for name, t in f.tensors():
        info = TensorInfo(name, f.shape(t, name), f.dtype_name(t, name))
        yield info, f.array(t, name)


# ------------------------------------------------------------------ GGUF
def _read_gguf(path: str, size: int) -> Iterator[tuple[TensorInfo, np.ndarray]]:
    gguf = _need("gguf")
    try:
        reader = gguf.GGUFReader(path, "r")
    except Exception as exc:
        raise ValueError(f"{path}: corrupt or truncated GGUF file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:120] if str(exc) else ''})") from None
    from gguf import GGMLQuantizationType as Q

    for t in reader.tensors:
        qt = Q(int(t.tensor_type))
        # GGUF lists dims fastest-first; NumPy order is the reverse
        shape = tuple(int(d) for d in reversed([int(v) for v in t.shape]))
        info = TensorInfo(str(t.name), shape, qt.name)
        if qt in (Q.F32, Q.F16, Q.F64):
            arr = np.asarray(t.data).reshape(shape)
        elif qt == Q.BF16 or int(t.tensor_type) not in (Q.I8, Q.I16, Q.I32, Q.I64):
            try:
                from gguf.quants import dequantize
                arr = dequantize(t.data, qt).reshape(shape)
            except Exception as exc:
                raise ValueError(f"{path}: cannot dequantize tensor {info.name!r} of type {qt.name} "
                                 f"({type(exc).__name__})") from None
        else:
            arr = np.asarray(t.data).reshape(shape)
        yield info, arr


# ------------------------------------------------------------------ NumPy
def _read_npy(path: str, size: int) -> Iterator[tuple[TensorInfo, np.ndarray]]:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"{path}: corrupt or truncated .npy file ({type(exc).__name__})") from None
    name = os.path.splitext(os.path.basename(path))[0]
    yield TensorInfo(name, tuple(arr.shape), str(arr.dtype)), arr


def _read_npz(path: str, size: int) -> Iterator[tuple[TensorInfo, np.ndarray]]:
    try:
        z = np.load(path, allow_pickle=False)
        names = list(z.files)
    except Exception as exc:
        raise ValueError(f"{path}: corrupt or truncated .npz file ({type(exc).__name__})") from None
    with z:
        for name in names:
            try:
                arr = z[name]
            except Exception as exc:
                raise ValueError(f"{path}: corrupt .npz member {name!r} ({type(exc).__name__})") from None
            yield TensorInfo(name, tuple(arr.shape), str(arr.dtype)), arr


_READERS = {".safetensors": _read_safetensors, ".onnx": _read_onnx, ".gguf": _read_gguf,
            ".npz": _read_npz, ".npy": _read_npy}


def iter_tensors(path) -> Iterator[tuple[TensorInfo, np.ndarray]]:
    """Yield ``(TensorInfo, array)`` for every tensor of the checkpoint at ``path``, one at a time.

    The array keeps its stored dtype (memory-mapped when possible); callers convert.
    Raises ValueError (one line) for missing/empty/corrupt/truncated files and unknown extensions.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in _READERS:
        raise ValueError(f"{path}: unknown checkpoint extension {ext or '(none)'!r}; expected one of "
                         + ", ".join(EXTENSIONS))
    size = _check_file(path)
    return _READERS[ext](path, size)
