"""Streaming ONNX reader: the protobuf wire format walked by hand over a memory map.

``onnx.load`` parses the whole ``ModelProto`` into memory, so reading one initializer costs the
whole checkpoint.  Here the ``.onnx`` file is memory-mapped and walked in two steps:

1. :func:`scan` reads only tags, lengths and small fields (names, dims, data type, external-data
   entries) and records, for every tensor, the **byte ranges** of its data (no tensor byte is read);
2. :meth:`OnnxFile.array` makes one tensor's array on demand:

   * ``raw_data`` and external data: a zero-copy ``numpy.frombuffer`` view of a memory map of *that
     tensor's bytes only* (its own ``mmap``, unmapped when the array is dropped, so the pages of
     tensors already analyzed do not stay in the resident set).  A float32/float64 tensor whose file
     offset is not a multiple of the item size (``raw_data`` inside the protobuf usually is not) is
     read with ``readinto`` into a new aligned array instead (1x that tensor, no mapped pages);
   * ``float_data``/``double_data`` (packed fixed32/fixed64): the same view; ``int32_data``,
     ``int64_data``, ``uint64_data`` (varints): decoded in chunks of :data:`CHUNK` bytes into the
     output array (temporaries bounded by the chunk, not the tensor).  (b)float16 and float8 stored in
     ``int32_data`` hold their bit patterns (ONNX spec: "converted bit-wise into an unsigned
     integer"), converted exactly as ``onnx.numpy_helper.to_array`` does.

Field numbers (checked against ``onnx/onnx.proto`` of onnx 1.23): ModelProto.graph = 7;
GraphProto.node = 1, .initializer = 5; NodeProto.output = 2, .name = 3, .op_type = 4, .attribute = 5;
AttributeProto.name = 1, .t = 5, .g = 6, .graphs = 11, .type = 20; TensorProto.dims = 1,
.data_type = 2, .segment = 3, .float_data = 4, .int32_data = 5, .string_data = 6, .int64_data = 7,
.name = 8, .raw_data = 9, .double_data = 10, .uint64_data = 11, .external_data = 13,
.data_location = 14; StringStringEntryProto.key = 1, .value = 2.

Protobuf semantics kept: repeated scalar fields are accepted packed or not (non-packed runs are
recorded as one byte range per run); a singular scalar seen twice keeps the last value; a singular
message seen twice is merged (its repeated fields concatenated), which is what ``ParseFromString``
does; a known field with an unexpected wire type is skipped as an unknown field.

Data types decoded here: every type ``to_array`` maps to a NumPy or ml_dtypes dtype of 1 byte or more
(FLOAT, DOUBLE, FLOAT16, BFLOAT16, the FLOAT8 types, the integer types, BOOL, COMPLEX64/128).  STRING
and the sub-byte types (INT4, UINT4, FLOAT4E2M1, INT2, UINT2, FLOAT6E2M3, FLOAT6E3M2) are never analyzed
(not float tensors) and rare in checkpoints: they are decoded by parsing *that tensor's bytes only*
with ``onnx.TensorProto`` and ``to_array`` (memory bounded by the tensor; needs the ``onnx`` package).

Every structural error (a varint cut by the end of the file or of its enclosing message, a length
past the end, a bad wire type, a data length that does not match the dims, an external file too short
or outside the model's directory) is a one-line :class:`ValueError`; a wrong tensor is never returned.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field

import numpy as np

#: bytes of a varint field decoded per step (temporaries: ~10 arrays of CHUNK 8-byte values)
CHUNK = 1 << 18
MAX_DEPTH = 64  # subgraph nesting (protobuf's own recursion limit is 100 messages)

# data_type -> (name, NumPy dtype string or "ml:<ml_dtypes name>" or None for the onnx fallback)
DATA_TYPES = {
    1: ("FLOAT", "<f4"), 2: ("UINT8", "u1"), 3: ("INT8", "i1"), 4: ("UINT16", "<u2"), 5: ("INT16", "<i2"),
    6: ("INT32", "<i4"), 7: ("INT64", "<i8"), 8: ("STRING", None), 9: ("BOOL", "?"), 10: ("FLOAT16", "<f2"),
    11: ("DOUBLE", "<f8"), 12: ("UINT32", "<u4"), 13: ("UINT64", "<u8"), 14: ("COMPLEX64", "<c8"),
    15: ("COMPLEX128", "<c16"), 16: ("BFLOAT16", "ml:bfloat16"), 17: ("FLOAT8E4M3FN", "ml:float8_e4m3fn"),
    18: ("FLOAT8E4M3FNUZ", "ml:float8_e4m3fnuz"), 19: ("FLOAT8E5M2", "ml:float8_e5m2"),
    20: ("FLOAT8E5M2FNUZ", "ml:float8_e5m2fnuz"), 21: ("UINT4", None), 22: ("INT4", None),
    23: ("FLOAT4E2M1", None), 24: ("FLOAT8E8M0", "ml:float8_e8m0fnu"), 25: ("UINT2", None), 26: ("INT2", None),
    27: ("FLOAT6E2M3", None), 28: ("FLOAT6E3M2", None),
}
_U16_BITS = {4, 5, 10, 16}           # int32_data -> uint16 bit pattern (UINT16, INT16, FLOAT16, BFLOAT16)
_U8_BITS = {9, 17, 18, 19, 20, 24}   # int32_data -> uint8 bit pattern (BOOL, FLOAT8*)
_INT32_FIELD = {2, 3, 4, 5, 6, 9, 10, 16, 17, 18, 19, 20, 24}
# TensorProto data fields: number -> (element width in bytes, 0 = varint)
_FLOAT_DATA, _INT32_DATA, _INT64_DATA, _DOUBLE_DATA, _UINT64_DATA = 4, 5, 7, 10, 11
_WIDTH = {_FLOAT_DATA: 4, _INT32_DATA: 0, _INT64_DATA: 0, _DOUBLE_DATA: 8, _UINT64_DATA: 0}
EXTERNAL = 1


class WireError(Exception):
    """Internal: a structural error at a byte offset (turned into a one-line ValueError)."""


@dataclass
class TensorRec:
    name: str = ""
    dims: list = field(default_factory=list)
    data_type: int = 0
    raw: tuple | None = None                       # (start, end) of raw_data
    data: dict = field(default_factory=dict)       # field -> [(start, end, packed)]
    location: int = 0
    external: list = field(default_factory=list)   # [(key, value)]
    has_segment: bool = False
    span: list = field(default_factory=list)       # [(start, end)] of the TensorProto message(s)


@dataclass
class AttrRec:
    name: str = ""
    type: int = 0
    t: TensorRec | None = None
    g: "GraphRec | None" = None
    graphs: list = field(default_factory=list)


@dataclass
class NodeRec:
    name: str = ""
    op_type: str = ""
    outputs: list = field(default_factory=list)
    attrs: list = field(default_factory=list)


@dataclass
class GraphRec:
    inits: list = field(default_factory=list)
    nodes: list = field(default_factory=list)


class _Reader:
    """Tag/length walker over a buffer ``b`` (an mmap: ``b[i]`` is an int, slices are bytes)."""

    def __init__(self, b, size):
        self.b, self.size = b, size

    def varint(self, pos, end):
        b = self.b
        result = shift = 0
        start = pos
        while True:
            if pos >= end:
                where = "the end of the file" if end >= self.size else "the end of its enclosing message"
                raise WireError(f"varint at byte {start} runs past {where}")
            c = b[pos]
            pos += 1
            result |= (c & 0x7F) << shift
            if c < 0x80:
                return result & 0xFFFFFFFFFFFFFFFF, pos
            shift += 7
            if shift >= 70:
                raise WireError(f"varint at byte {start} is longer than 10 bytes")

    def fields(self, pos, end):
        """Yield ``(field_number, wire_type, value_or_start, stop, tag_at)`` for the fields in
        [pos, end): varint -> (value, next); LEN -> (start, stop); fixed32/64 -> (start, stop)."""
        while pos < end:
            tag_at = pos
            tag, pos = self.varint(pos, end)
            num, wt = tag >> 3, tag & 7
            if num == 0:
                raise WireError(f"field number 0 at byte {tag_at}")
            if wt == 0:
                v, pos = self.varint(pos, end)
                yield num, wt, v, pos, tag_at
            elif wt == 2:
                n, p = self.varint(pos, end)
                if n > end - p:
                    where = "the end of the file" if end >= self.size else "the end of its enclosing message"
                    raise WireError(f"field {num} at byte {tag_at} has length {n}, past {where} "
                                    f"(byte {end})")
                pos = p + n
                yield num, wt, p, pos, tag_at
            elif wt in (1, 5):
                w = 8 if wt == 1 else 4
                if w > end - pos:
                    raise WireError(f"fixed-width field {num} at byte {tag_at} runs past the end")
                yield num, wt, pos, pos + w, tag_at
                pos += w
            else:
                raise WireError(f"unsupported or invalid wire type {wt} at byte {tag_at}")

    def text(self, a, e):
        try:
            return bytes(self.b[a:e]).decode("utf-8")
        except UnicodeDecodeError:  # ONNX strings are UTF-8: a corrupt name must not rename a tensor
            raise WireError(f"string at byte {a} is not valid UTF-8") from None

    # ------------------------------------------------------------------ messages
    def model(self):
        g = GraphRec()
        seen = False
        for num, wt, a, e, at_ in self.fields(0, self.size):
            if num == 7 and wt == 2:  # ModelProto.graph (a second occurrence merges: concatenation)
                self.graph(a, e, g, 0)
                seen = True
        return g, seen

    def graph(self, pos, end, g, depth):
        if depth > MAX_DEPTH:
            raise WireError(f"subgraphs nested deeper than {MAX_DEPTH} levels")
        for num, wt, a, e, at_ in self.fields(pos, end):
            if wt != 2:
                continue
            if num == 5:
                t = TensorRec()
                self.tensor(a, e, t)
                g.inits.append(t)
            elif num == 1:
                g.nodes.append(self.node(a, e, depth))
        return g

    def node(self, pos, end, depth):
        n = NodeRec()
        for num, wt, a, e, at_ in self.fields(pos, end):
            if wt != 2:
                continue
            if num == 2:
                n.outputs.append(self.text(a, e))
            elif num == 3:
                n.name = self.text(a, e)
            elif num == 4:
                n.op_type = self.text(a, e)
            elif num == 5:
                n.attrs.append(self.attr(a, e, depth))
        return n

    def attr(self, pos, end, depth):
        at = AttrRec()
        for num, wt, a, e, at_ in self.fields(pos, end):
            if num == 20 and wt == 0:
                at.type = a
            elif wt != 2:
                continue
            elif num == 1:
                at.name = self.text(a, e)
            elif num == 5:
                if at.t is None:
                    at.t = TensorRec()
                self.tensor(a, e, at.t)
            elif num == 6:
                if at.g is None:
                    at.g = GraphRec()
                self.graph(a, e, at.g, depth + 1)
            elif num == 11:
                at.graphs.append(self.graph(a, e, GraphRec(), depth + 1))
        return at

    def tensor(self, pos, end, t):
        t.span.append((pos, end))
        for num, wt, a, e, at_ in self.fields(pos, end):
            if num == 1:  # dims: packed (LEN) or one varint per element
                if wt == 2:
                    p = a
                    while p < e:
                        v, p = self.varint(p, e)
                        t.dims.append(v)
                elif wt == 0:
                    t.dims.append(a)
            elif num == 2 and wt == 0:
                t.data_type = a
            elif num == 3 and wt == 2:
                t.has_segment = True
            elif num in _WIDTH:
                w = _WIDTH[num]
                scalar_wt = 0 if w == 0 else (5 if w == 4 else 1)
                segs = t.data.setdefault(num, [])
                if wt == 2:
                    # checked here, as protobuf's parser does, even when raw_data makes the field unused
                    if w and (e - a) % w:
                        raise WireError(f"packed field {num} at byte {at_} has {e - a} bytes, not a multiple of {w}")
                    if not w and e > a and self.b[e - 1] >= 0x80:
                        raise WireError(f"packed varints of field {num} at byte {at_} end inside a varint")
                    segs.append((a, e, True))
                elif wt == scalar_wt:
                    # one element with its own tag; consecutive elements extend one run whose bytes
                    # alternate tag (1 byte: field numbers < 16), value
                    if w and e - at_ != 1 + w:  # multi-byte tag encoding: a one-value packed range
                        segs.append((a, e, True))
                    elif segs and not segs[-1][2] and segs[-1][1] == at_:
                        segs[-1] = (segs[-1][0], e, False)
                    else:
                        segs.append((at_, e, False))
            elif num == 8 and wt == 2:
                t.name = self.text(a, e)
            elif num == 9 and wt == 2:
                t.raw = (a, e)
            elif num == 13 and wt == 2:
                k = v = ""
                for n2, w2, a2, e2, _ in self.fields(a, e):
                    if w2 == 2 and n2 == 1:
                        k = self.text(a2, e2)
                    elif w2 == 2 and n2 == 2:
                        v = self.text(a2, e2)
                t.external.append((k, v))
            elif num == 14 and wt == 0:
                t.location = a
        return t


def _count_varints(buf: np.ndarray) -> int:
    return int(np.count_nonzero(buf < 0x80))


def _decode_varints(buf: np.ndarray) -> np.ndarray:
    """All varints of ``buf`` (uint8, ends on a varint's last byte) as uint64 (protobuf: the low
    64 bits of the 7-bit groups, little-endian)."""
    ends = np.flatnonzero(buf < 0x80)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lens = ends - starts + 1
    if lens.max(initial=0) > 10:
        raise WireError("a packed varint is longer than 10 bytes")
    pos = np.arange(buf.size, dtype=np.int64) - np.repeat(starts, lens)
    vals = (buf & 0x7F).astype(np.uint64) << (7 * pos).astype(np.uint64)
    return np.add.reduceat(vals, starts) if starts.size else np.zeros(0, np.uint64)


def _np_dtype(kind: str):
    if kind.startswith("ml:"):
        from .readers import _need  # the readers' missing-extra message (readers imports this module lazily)

        return np.dtype(getattr(_need("ml_dtypes"), kind[3:]))
    return np.dtype(kind)


def _map(file: str, offset: int, nbytes: int, dtype: np.dtype, shape: tuple) -> np.ndarray:
    """``nbytes`` at ``offset`` of ``file`` as an array: a read-only view of a memory map of those
    bytes only (unmapped when the array is dropped).  A float view at an offset that is not a multiple
    of the item size would be unaligned: those bytes are read (``readinto``) into a new aligned array
    instead, so the peak stays 1x the tensor (no mapped pages beside the copy)."""
    n = nbytes // dtype.itemsize
    if n == 0:
        return np.zeros(shape, dtype)
    with open(file, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if offset + nbytes > size:
            raise WireError(f"data at bytes [{offset}, {offset + nbytes}) of {file} past its end ({size} bytes)")
        if offset % dtype.alignment and dtype.kind in "fc":
            out = np.empty(shape, dtype)
            f.seek(offset)
            if f.readinto(memoryview(out.reshape(-1).view(np.uint8))) != nbytes:
                raise WireError(f"short read at byte {offset} of {file}")
            return out
        base = offset - offset % mmap.ALLOCATIONGRANULARITY
        mm = mmap.mmap(f.fileno(), offset + nbytes - base, access=mmap.ACCESS_READ, offset=base)
    arr = np.frombuffer(mm, dtype=dtype, count=n, offset=offset - base).reshape(shape)
    arr.flags.writeable = False
    return arr


def _close(mm):
    try:
        mm.close()
    except BufferError:  # a view is still alive (an exception unwound a loop): unmapped when collected
        pass


class OnnxFile:
    """The tensors of one ``.onnx`` file, scanned once (byte ranges only) and read on demand."""

    def __init__(self, path: str, size: int):
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            graph, seen = _Reader(mm, len(mm)).model()
        except WireError as exc:
            raise ValueError(f"{path}: corrupt or truncated ONNX file ({exc})") from None
        finally:
            mm.close()
        if not seen or not (graph.nodes or graph.inits):
            raise ValueError(f"{path}: not an ONNX model (no graph nodes and no initializers)")
        self.graph = graph

    # ------------------------------------------------------------------ structure
    def tensors(self):
        """``(name, TensorRec)`` in the order of the former ``onnx``-based reader: the initializers
        of a graph, then its nodes' ``Constant`` values and subgraphs (``If``/``Loop`` bodies),
        depth first, named ``node/attr/name``."""
        return self._walk(self.graph, "")

    def _walk(self, g, prefix):
        for t in g.inits:
            yield prefix + t.name, t
        for n in g.nodes:
            for a in n.attrs:
                if a.type == 4 and n.op_type == "Constant":   # AttributeProto.TENSOR
                    yield prefix + (n.outputs[0] if n.outputs else n.name), a.t or TensorRec()
                elif a.type == 5:                             # GRAPH
                    yield from self._walk(a.g or GraphRec(), f"{prefix}{n.name or n.op_type}/{a.name}/")
                elif a.type == 10:                            # GRAPHS
                    for i, sub in enumerate(a.graphs):
                        yield from self._walk(sub, f"{prefix}{n.name or n.op_type}/{a.name}{i}/")

    def _bad(self, name, what):
        return ValueError(f"{self.path}: corrupt ONNX tensor {name!r} ({what})")

    def shape(self, t: TensorRec, name: str) -> tuple:
        if any(d >= 1 << 63 for d in t.dims):
            raise self._bad(name, "negative dimension")
        return tuple(int(d) for d in t.dims)

    def dtype_name(self, t: TensorRec, name: str) -> str:
        if t.data_type == 0:
            return "UNDEFINED"
        if t.data_type not in DATA_TYPES:
            raise self._bad(name, f"unknown data_type {t.data_type}")
        return DATA_TYPES[t.data_type][0]

    # ------------------------------------------------------------------ data
    def array(self, t: TensorRec, name: str) -> np.ndarray:
        shape = self.shape(t, name)
        count = 1
        for d in shape:
            count *= d
        if t.has_segment:
            raise self._bad(name, "stored in segments, which onnx.numpy_helper does not support either")
        if t.data_type == 0:
            raise self._bad(name, "data_type UNDEFINED")
        tname = self.dtype_name(t, name)
        kind = DATA_TYPES[t.data_type][1]
        if kind is None:
            return self._fallback(t, name, tname)
        dt = _np_dtype(kind)
        nbytes = count * dt.itemsize
        try:
            if t.location == EXTERNAL:
                return self._external(t, name, dt, shape, nbytes)
            if t.raw is not None:
                a, e = t.raw
                if e - a != nbytes:
                    raise self._bad(name, f"raw_data has {e - a} bytes, shape {shape} of {tname} needs {nbytes}")
                return _map(self.path, a, nbytes, dt, shape)
            return self._typed(t, name, tname, dt, shape, count)
        except WireError as exc:
            raise self._bad(name, str(exc)) from None

    def _external(self, t, name, dt, shape, nbytes):
        keys = dict(t.external)  # a repeated key: the last one wins (as onnx's ExternalDataInfo)
        loc = keys.get("location", "")
        if not loc:
            raise self._bad(name, "external data without a 'location'")
        if os.path.isabs(loc) or loc[:1] in ("/", "\\") or (len(loc) > 1 and loc[1] == ":"):
            raise ValueError(f"{self.path}: tensor {name!r}: external data location {loc!r} is an absolute path; "
                             "it must be relative to the model's directory")
        if ".." in loc.replace("\\", "/").split("/"):
            raise ValueError(f"{self.path}: tensor {name!r}: external data location {loc!r} contains '..'; "
                             "it must stay inside the model's directory")
        full = os.path.join(self.dir, loc)
        root = os.path.realpath(self.dir)
        if not os.path.realpath(full).startswith(root.rstrip(os.sep) + os.sep):
            raise ValueError(f"{self.path}: tensor {name!r}: external data location {loc!r} resolves outside the "
                             "model's directory (symbolic link)")
        if not os.path.isfile(full):
            raise ValueError(f"{self.path}: tensor {name!r}: external data file {loc!r} not found next to the model")
        try:
            offset = int(keys.get("offset", "0") or "0")
            length = int(keys["length"]) if keys.get("length") else None
        except ValueError:
            raise self._bad(name, "external data offset/length is not an integer") from None
        if offset < 0 or (length is not None and length < 0):
            raise self._bad(name, "negative external data offset/length")
        size = os.path.getsize(full)
        end = offset + (length if length is not None else 0)
        if offset > size or end > size:
            raise ValueError(f"{self.path}: tensor {name!r}: external data file {loc!r} is too short ({size} bytes; "
                             f"the tensor needs bytes [{offset}, {end}))")
        if length is None:
            length = size - offset
        if length != nbytes:
            raise self._bad(name, f"external data length {length} bytes, shape {shape} of "
                                  f"{self.dtype_name(t, name)} needs {nbytes}")
        return _map(full, offset, nbytes, dt, shape)

    def _fallback(self, t, name, tname):
        try:
            import onnx
            from onnx import numpy_helper
        except ImportError:
            from . import MISSING_EXTRA
            raise ValueError(f"{self.path}: tensor {name!r} of type {tname} needs the optional package 'onnx': "
                             f"{MISSING_EXTRA}") from None
        proto = onnx.TensorProto()
        with open(self.path, "rb") as f:
            for a, e in t.span:
                f.seek(a)
                proto.MergeFromString(f.read(e - a))
        try:
            return numpy_helper.to_array(proto, base_dir=self.dir)
        except Exception as exc:
            raise self._bad(name, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}") \
                from None

    # typed (non-raw) fields -------------------------------------------------
    def _typed(self, t, name, tname, dt, shape, count):
        d = t.data_type
        if d in (1, 14, 11, 15):  # FLOAT/COMPLEX64: float_data; DOUBLE/COMPLEX128: double_data
            fnum, w, store = (_FLOAT_DATA, 4, "<f4") if d in (1, 14) else (_DOUBLE_DATA, 8, "<f8")
            nvals = count * (2 if d in (14, 15) else 1)
            out = self._fixed(t.data.get(fnum, []), w, np.dtype(store), nvals, name, tname, shape)
            return out.view(dt).reshape(shape) if d in (14, 15) else out.reshape(shape)
        if d in _INT32_FIELD:
            fnum = _INT32_DATA
            if d in _U16_BITS:
                def conv(u):
                    return u.astype(np.uint16).view(dt)   # low 16 bits of the int32 (onnx: view uint32 -> uint16)
            elif d in _U8_BITS:
                def conv(u):
                    return u.astype(np.uint8).view(dt)
            else:
                def conv(u):
                    return u.view(np.int64).astype(np.int32).astype(dt)
        elif d == 7:
            fnum = _INT64_DATA

            def conv(u):
                return u.view(np.int64)
        elif d in (12, 13):
            fnum = _UINT64_DATA

            def conv(u):
                return u.astype(dt)
        else:  # pragma: no cover - every decodable type is listed above
            raise self._bad(name, f"no decoder for {tname}")
        return self._varint_field(t.data.get(fnum, []), conv, dt, count, name, tname, shape).reshape(shape)

    def _mismatch(self, name, got, tname, shape, need):
        return self._bad(name, f"{got} stored values, shape {shape} of {tname} needs {need}")

    def _fixed(self, segs, w, store, nvals, name, tname, shape):
        total = 0
        for a, e, packed in segs:
            if packed and (e - a) % w:
                raise self._bad(name, f"packed field of {e - a} bytes is not a multiple of {w}")
            total += (e - a) // w if packed else (e - a) // (1 + w)
        if total != nvals:
            raise self._mismatch(name, total, tname, shape, nvals)
        if nvals == 0:
            return np.zeros(0, store)
        if len(segs) == 1 and segs[0][2]:
            a, e, _ = segs[0]
            return _map(self.path, a, e - a, store, (nvals,))
        out = np.empty(nvals, store)
        i = 0
        with open(self.path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            rows = max(1, CHUNK // (1 + w))
            for a, e, packed in segs:
                if packed:
                    k = (e - a) // w
                    out[i:i + k] = np.frombuffer(mm, np.uint8, e - a, a).view(store)
                    i += k
                    continue
                k = (e - a) // (1 + w)
                for r in range(0, k, rows):   # rows of (tag byte, value): drop the tags, chunk by chunk
                    m = min(rows, k - r)
                    buf = np.frombuffer(mm, np.uint8, m * (1 + w), a + r * (1 + w)).reshape(m, 1 + w)
                    out[i:i + m] = buf[:, 1:].copy().view(store).ravel()
                    i += m
                    del buf
        finally:
            _close(mm)
        return out

    def _chunks(self, mm, a, e):
        """[start, stop) pieces of the varint stream [a, e), each ending on a varint's last byte."""
        p = a
        while p < e:
            q = min(p + CHUNK, e)
            buf = np.frombuffer(mm, np.uint8, q - p, p)
            ends = np.flatnonzero(buf < 0x80)
            if q == e:
                if not ends.size or ends[-1] != q - p - 1:
                    raise WireError(f"packed varints at bytes [{a}, {e}) end inside a varint")
                yield buf
                return
            if not ends.size:
                raise WireError(f"varint longer than 10 bytes near byte {p}")
            cut = int(ends[-1]) + 1
            yield buf[:cut]
            p += cut

    def _varint_field(self, segs, conv, dt, count, name, tname, shape):
        if not segs:
            if count:
                raise self._mismatch(name, 0, tname, shape, count)
            return np.zeros(0, dt)
        with open(self.path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            total = 0
            for a, e, packed in segs:
                k = sum(_count_varints(b) for b in self._chunks(mm, a, e))
                total += k if packed else k // 2
            if total != count:
                raise self._mismatch(name, total, tname, shape, count)
            out = np.empty(count, dt)
            i = 0
            for a, e, packed in segs:
                j = 0  # varints decoded so far in this range (non-packed: tag, value, tag, value, ...)
                for b in self._chunks(mm, a, e):
                    u = _decode_varints(b)
                    if not packed:
                        v = u[1 - j % 2::2]
                        j += u.size
                        u = v
                    out[i:i + u.size] = conv(u)
                    i += u.size
                    del b, u
        except WireError as exc:
            raise self._bad(name, str(exc)) from None
        finally:
            _close(mm)
        return out
