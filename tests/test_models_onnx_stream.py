"""The streaming ONNX reader (quanttheory/models/_onnx_wire.py) against the onnx library.

Reference: every model is written with the real ``onnx`` package (``helper``/``numpy_helper``,
``save_model`` with external data) and read back with ``onnx.load`` + ``numpy_helper.to_array``; every
tensor must come out with the same name (subgraph prefixes as the former onnx-based reader, whose walk
is restated below), dtype, shape and the same bytes (bit for bit, NaN payloads included).  Messages
that are not produced by onnx (non-packed repeated fields, a multi-byte tag, a merged second graph
field) are encoded by hand in this file from the protobuf wire-format rules, and parsed by onnx too
as the reference.  Adversarial inputs (truncations at every cut point, a corrupted length, bad
external data) must raise a one-line ValueError; the expected outcome of each cut is derived from
where the graph field ends.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys

import numpy as np
import pytest

from quanttheory.models.readers import iter_tensors

onnx = pytest.importorskip("onnx")
ml_dtypes = pytest.importorskip("ml_dtypes")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402


# --------------------------------------------------------------------------- reference
def _ref_walk(graph, prefix=""):
    """The former reader's walk (onnx objects): initializers, then Constant values and subgraphs."""
    A = onnx.AttributeProto
    for t in graph.initializer:
        yield prefix + t.name, t
    for node in graph.node:
        for a in node.attribute:
            if a.type == A.TENSOR and node.op_type == "Constant":
                yield prefix + (node.output[0] if node.output else node.name), a.t
            elif a.type == A.GRAPH:
                yield from _ref_walk(a.g, f"{prefix}{node.name or node.op_type}/{a.name}/")
            elif a.type == A.GRAPHS:
                for i, g in enumerate(a.graphs):
                    yield from _ref_walk(g, f"{prefix}{node.name or node.op_type}/{a.name}{i}/")


def _reference(path):
    m = onnx.load(str(path), load_external_data=False)
    base = os.path.dirname(str(path))
    return [(name, numpy_helper.to_array(t, base_dir=base), T.DataType.Name(t.data_type), tuple(t.dims))
            for name, t in _ref_walk(m.graph)]


def _same(a, r):
    if a.dtype != r.dtype or a.shape != r.shape:
        return False
    if r.dtype == object:
        return list(a.ravel()) == list(r.ravel())
    return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(r).tobytes()


def _check_equal(path):
    got = list(iter_tensors(path))
    ref = _reference(path)
    assert [i.name for i, _ in got] == [r[0] for r in ref]
    for (info, a), (name, r, dtname, dims) in zip(got, ref):
        assert info.dtype == dtname and info.shape == dims, (info, dtname, dims)
        assert _same(a, r), name
    return got


def _mapped(a):
    """True if the array's memory is a memory map (a view of the file), not an allocation."""
    base = a
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return isinstance(base, mmap.mmap) or (isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap))


def _graph(inits, nodes=None):
    nodes = nodes or [helper.make_node("Identity", ["x"], ["y"])]
    return helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, [1])],
                             [helper.make_tensor_value_info("y", T.FLOAT, [1])], inits)


def _save(tmp_path, graph, name="m.onnx", **kw):
    p = tmp_path / name
    onnx.save_model(helper.make_model(graph), str(p), **kw)
    return p


# --------------------------------------------------------------------------- hand encoding (wire format)
def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(num, wt):
    return _varint(num << 3 | wt)


def _len(num, payload):
    return _key(num, 2) + _varint(len(payload)) + payload


def _rng_weights(rng, shape):
    return (rng.standard_normal(shape) * 0.05).astype(np.float32)


# --------------------------------------------------------------------------- every storage form
def test_every_dtype_and_storage_field_bit_for_bit(tmp_path):
    rng = np.random.default_rng(19)
    nan = _rng_weights(rng, (3, 5))
    nan.view(np.uint32)[1, 2] = 0x7FC12345            # a NaN with a payload
    nan[2, 0] = -np.inf
    inits = [
        numpy_helper.from_array(_rng_weights(rng, (16, 8)), "raw_f32"),           # raw_data
        numpy_helper.from_array(nan, "nan"),
        numpy_helper.from_array(rng.standard_normal((4, 3)), "raw_f64"),
        numpy_helper.from_array(rng.standard_normal((5, 2)).astype(np.float16), "raw_f16"),
        numpy_helper.from_array(rng.standard_normal((3, 4)).astype(ml_dtypes.bfloat16), "raw_bf16"),
        numpy_helper.from_array(rng.standard_normal((3, 4)).astype(ml_dtypes.float8_e4m3fn), "raw_e4m3"),
        numpy_helper.from_array(np.arange(12, dtype=np.int64).reshape(3, 4) - 6, "raw_i64"),
        helper.make_tensor("fd", T.FLOAT, [3, 4], rng.standard_normal(12).tolist()),        # float_data
        helper.make_tensor("dd", T.DOUBLE, [2, 3], rng.standard_normal(6).tolist()),        # double_data
        helper.make_tensor("i32d_f16", T.FLOAT16, [2, 5], rng.standard_normal(10).tolist()),  # int32_data
        helper.make_tensor("i32d_bf16", T.BFLOAT16, [2, 5], rng.standard_normal(10).tolist()),
        helper.make_tensor("i32d_e5m2", T.FLOAT8E5M2, [2, 2], [1.0, -2.5, 0.0, 448.0]),
        helper.make_tensor("i32", T.INT32, [4], [-1, 2, -2**31, 2**31 - 1]),      # 10-byte varints
        helper.make_tensor("i8", T.INT8, [3], [-128, 5, 127]),
        helper.make_tensor("u16", T.UINT16, [2], [0, 65535]),
        helper.make_tensor("i64", T.INT64, [3], [-1, 2**62, -2**63]),
        helper.make_tensor("u64", T.UINT64, [2], [2**64 - 1, 5]),
        helper.make_tensor("u32", T.UINT32, [2], [2**32 - 1, 5]),
        helper.make_tensor("c64", T.COMPLEX64, [2], [1 + 2j, 3 - 4j]),
        helper.make_tensor("b", T.BOOL, [3], [True, False, True]),
        helper.make_tensor("empty", T.FLOAT, [0, 4], []),
        helper.make_tensor("i4", T.INT4, [3], [-8, 7, 1]),                        # onnx fallback (sub-byte)
        helper.make_tensor("s", T.STRING, [2], [b"ab", b"c"]),
    ]
    got = _check_equal(_save(tmp_path, _graph(inits)))
    by = {i.name: a for i, a in got}
    assert np.isnan(by["nan"][1, 2]) and by["nan"].view(np.uint32)[1, 2] == 0x7FC12345
    for name in ("raw_f32", "raw_f64", "fd"):
        assert by[name].flags.aligned


def test_views_are_zero_copy_and_read_only(tmp_path):
    """A float32 raw_data at an aligned offset is a view of its own memory map; an unaligned one is
    an aligned array read from the file; neither is writable through to the file."""
    rng = np.random.default_rng(1)
    w = _rng_weights(rng, (64, 64))
    p = _save(tmp_path, _graph([numpy_helper.from_array(w, "w")]))
    data = p.read_bytes()
    off = data.index(w.tobytes())
    (info, a), = list(iter_tensors(p))
    np.testing.assert_array_equal(a, w)
    assert a.flags.aligned
    assert _mapped(a) == (off % 4 == 0)
    assert not a.flags.writeable or a.flags.owndata


def test_hand_encoded_non_packed_fields_and_merged_graph(tmp_path):
    """Non-packed dims/float_data/int32_data/int64_data, a float_data element with a two-byte tag,
    and a second ``graph`` field (protobuf merges it: its initializers are appended)."""
    base = helper.make_model(_graph([numpy_helper.from_array(np.ones((2, 2), np.float32), "first")]))
    f = [0.5, -1.25, 3.0, 7.5, -0.0, 1e-3]
    t_float = (b"".join(_key(1, 0) + _varint(d) for d in (2, 3)) + _key(2, 0) + _varint(T.FLOAT)
               + b"".join(_key(4, 5) + struct.pack("<f", v) for v in f[:4])      # non-packed run
               + _len(4, struct.pack("<f", f[4]))                                 # a packed piece
               + bytes([0x25 | 0x80, 0x00]) + struct.pack("<f", f[5])            # two-byte tag
               + _len(8, b"np_float"))
    h = np.array([1.0, -2.0, 0.5, np.nan], np.float16).view(np.uint16)
    t_half = (_len(1, _varint(2) + _varint(2)) + _key(2, 0) + _varint(T.FLOAT16)
              + b"".join(_key(5, 0) + _varint(int(v)) for v in h) + _len(8, b"np_half"))
    t_i64 = (_key(1, 0) + _varint(3) + _key(2, 0) + _varint(T.INT64)
             + b"".join(_key(7, 0) + _varint(v) for v in (-5, 2**40, -(2**63)))
             + _len(8, b"np_i64"))
    extra = _len(7, _len(5, t_float) + _len(5, t_half) + _len(5, t_i64))
    p = tmp_path / "hand.onnx"
    p.write_bytes(base.SerializeToString() + extra)
    got = _check_equal(p)
    names = [i.name for i, _ in got]
    assert names == ["first", "np_float", "np_half", "np_i64"]
    np.testing.assert_array_equal(got[1][1], np.array(f, np.float32).reshape(2, 3))


def test_subgraph_and_constant_names(tmp_path):
    rng = np.random.default_rng(2)

    def body(tag, nested=None):
        nodes = [helper.make_node("Constant", [], [f"{tag}_c"], value=numpy_helper.from_array(
            _rng_weights(rng, (3, 3)), f"{tag}_cv"))]
        if nested is not None:
            nodes.append(nested)
        return helper.make_graph(nodes, f"{tag}_g", [], [helper.make_tensor_value_info(f"{tag}_c", T.FLOAT, [3, 3])],
                                 [numpy_helper.from_array(_rng_weights(rng, (4, 2)), f"{tag}_w")])

    inner_if = helper.make_node("If", ["cond"], ["z"], then_branch=body("deep_then"), else_branch=body("deep_else"))
    if_node = helper.make_node("If", ["cond"], ["y"], name="gate", then_branch=body("then", inner_if),
                               else_branch=body("else"))
    loop = helper.make_node("Loop", ["n", "cond"], ["v"], body=body("loop"))
    top_const = helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(_rng_weights(rng, (2, 6)), "kv"))
    g = _graph([numpy_helper.from_array(_rng_weights(rng, (5, 5)), "top")], [top_const, if_node, loop])
    got = _check_equal(_save(tmp_path, g))
    names = [i.name for i, _ in got]
    assert names[:2] == ["top", "k"]
    assert "gate/then_branch/If/then_branch/deep_then_w" in names and "Loop/body/loop_c" in names


# --------------------------------------------------------------------------- external data
def _external_model(tmp_path, rng, sub="ext"):
    d = tmp_path / sub
    d.mkdir()
    ws = [_rng_weights(rng, (32, 64)), rng.standard_normal((8, 8)).astype(np.float16),
          rng.standard_normal((16, 16)).astype(ml_dtypes.bfloat16)]
    inits = [numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(ws)]
    const = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(_rng_weights(rng, (4, 4)), "cv"))
    p = _save(d, _graph(inits, [const]), save_as_external_data=True, all_tensors_to_one_file=True,
              location="w.bin", size_threshold=0, convert_attribute=True)
    return p, ws


def test_external_data_bit_for_bit_and_mapped(tmp_path):
    p, ws = _external_model(tmp_path, np.random.default_rng(3))
    m = onnx.load(str(p), load_external_data=False)
    assert all(t.data_location == T.EXTERNAL for t in m.graph.initializer)
    got = _check_equal(p)
    ref = onnx.load(str(p))  # loads the external data itself
    for (info, a), t in zip(got, ref.graph.initializer):
        assert _same(a, numpy_helper.to_array(t))
    np.testing.assert_array_equal(got[0][1], ws[0])
    m_off = {t.name: int({e.key: e.value for e in t.external_data}.get("offset", 0)) for t in m.graph.initializer}
    for info, a in got[:3]:
        assert _mapped(a) == (m_off[info.name] % a.dtype.alignment == 0) and not a.flags.writeable


def _rewrite_external(p, dst, **set_keys):
    m = onnx.load(str(p), load_external_data=False)
    t = m.graph.initializer[0]
    for e in t.external_data:
        if e.key in set_keys:
            e.value = set_keys[e.key]
    onnx.save(m, str(dst))
    return dst


@pytest.mark.parametrize("case, msg", [
    ("dotdot", "contains '..'"),
    ("absolute", "absolute path"),
    ("symlink", "outside the model's directory"),
    ("short", "is too short"),
    ("offset_past_eof", "is too short"),
    ("length_mismatch", "external data length"),
    ("missing", "not found next to the model"),
])
def test_bad_external_data(tmp_path, case, msg):
    p, _ = _external_model(tmp_path, np.random.default_rng(4))
    d = p.parent
    t0 = onnx.load(str(p), load_external_data=False).graph.initializer[0]
    keys = {e.key: e.value for e in t0.external_data}
    if case == "dotdot":
        sub = d / "sub"
        sub.mkdir()
        q = _rewrite_external(p, sub / "m.onnx", location="../w.bin")      # the file exists, still refused
        with pytest.raises(Exception):
            onnx.load(str(q))                                                # onnx refuses it too
    elif case == "absolute":
        q = _rewrite_external(p, d / "abs.onnx", location=str(d / "w.bin"))
    elif case == "symlink":
        out = tmp_path / "outside"
        out.mkdir()
        os.replace(d / "w.bin", out / "w.bin")
        os.symlink(out / "w.bin", d / "w.bin")
        q = p
    elif case == "short":
        (d / "w.bin").write_bytes((d / "w.bin").read_bytes()[:int(keys["offset"]) + int(keys["length"]) - 1])
        q = p
    elif case == "offset_past_eof":
        q = _rewrite_external(p, d / "off.onnx", offset=str((d / "w.bin").stat().st_size + 4096))
    elif case == "length_mismatch":
        q = _rewrite_external(p, d / "len.onnx", length=str(int(keys["length"]) - 4))
    else:
        q = _rewrite_external(p, d / "miss.onnx", location="nothere.bin")
    with pytest.raises(ValueError, match=msg) as ei:
        list(iter_tensors(q))
    assert "\n" not in str(ei.value) and "w0" in str(ei.value)


# --------------------------------------------------------------------------- truncated / corrupt files
def _small_graph(rng):
    w = _rng_weights(rng, (32, 32))               # 4096 bytes of raw_data
    inits = [numpy_helper.from_array(w, "w"), helper.make_tensor("fd", T.FLOAT, [2, 3], list(range(6))),
             helper.make_tensor("h", T.FLOAT16, [4], [1.0, 2.0, 3.0, 4.0])]
    loop = helper.make_node("Loop", ["n", "c"], ["v"], body=helper.make_graph(
        [], "b", [], [], [numpy_helper.from_array(_rng_weights(rng, (2, 2)), "bw")]))
    return _graph(inits, [loop]), w


def test_truncation_at_every_cut_point_of_the_graph(tmp_path):
    """A model with only the graph field: every proper prefix cuts the graph (its length, or its
    content), so every cut must be a one-line 'corrupt or truncated' ValueError."""
    g, _ = _small_graph(np.random.default_rng(5))
    m = onnx.ModelProto()
    m.graph.CopyFrom(g)
    data = m.SerializeToString()
    assert data[0] == (7 << 3 | 2)
    p = tmp_path / "cut.onnx"
    raw_at = data.index(_rng_weights(np.random.default_rng(5), (32, 32)).tobytes())
    cuts = sorted(set(range(1, 80)) | set(range(1, len(data), 37)) | {raw_at, raw_at + 1, len(data) - 1})
    for cut in cuts:
        p.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="corrupt or truncated ONNX file") as ei:
            list(iter_tensors(p))
        assert "\n" not in str(ei.value)
    p.write_bytes(data)
    assert len(list(iter_tensors(p))) == 4


def test_truncation_after_the_graph_keeps_exact_tensors(tmp_path):
    """With onnx.save's layout (ir_version first, opset_import after the graph), a cut before the end
    of the graph is an error, and a cut after it either errors or gives exactly the same tensors."""
    g, _ = _small_graph(np.random.default_rng(6))
    model = helper.make_model(g, producer_name="x" * 40)
    full = model.SerializeToString()
    tail = onnx.ModelProto()
    tail.CopyFrom(model)
    for f in ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string", "graph"):
        tail.ClearField(f)
    suffix = tail.SerializeToString()
    assert suffix and full.endswith(suffix)
    graph_end = len(full) - len(suffix)
    p = tmp_path / "full.onnx"
    p.write_bytes(full)
    ref = [(i.name, np.array(a)) for i, a in iter_tensors(p)]
    for cut in list(range(1, graph_end, 29)) + [graph_end - 1] + list(range(graph_end, len(full))):
        p.write_bytes(full[:cut])
        if cut < graph_end:
            with pytest.raises(ValueError, match="ONNX"):
                list(iter_tensors(p))
            continue
        try:
            got = [(i.name, np.array(a)) for i, a in iter_tensors(p)]
        except ValueError as exc:
            assert "ONNX" in str(exc)
            continue
        assert [n for n, _ in got] == [n for n, _ in ref]
        assert all(_same(a, r) for (_, a), (_, r) in zip(got, ref))


def test_corrupted_lengths_and_varints(tmp_path):
    rng = np.random.default_rng(7)
    g, w = _small_graph(rng)
    m = onnx.ModelProto()
    m.graph.CopyFrom(g)
    data = m.SerializeToString()
    k = data.index(w.tobytes())
    assert data[k - 3:k] == bytes([9 << 3 | 2]) + _varint(4096)          # raw_data tag, length 4096
    p = tmp_path / "c.onnx"
    for length, msg in [(16383, "past the end of its enclosing message"), (2048, "ONNX")]:
        p.write_bytes(data[:k - 2] + _varint(length) + data[k:])
        with pytest.raises(ValueError, match=msg) as ei:
            list(iter_tensors(p))
        assert "\n" not in str(ei.value)
    for blob, msg in [(b"\x3a", "varint at byte 1 runs past the end of the file"),
                      (b"\x3a\xff\xff", "varint at byte 1 runs past the end of the file"),
                      (b"\x3a\x10abcd", "has length 16, past the end of the file"),
                      (b"\x08" + b"\xff" * 11, "longer than 10 bytes"),
                      (b"\x0f\x00", "wire type 7"),
                      (b"\x08\x05", "not an ONNX model")]:
        p.write_bytes(blob)
        with pytest.raises(ValueError, match=msg):
            list(iter_tensors(p))


def test_packed_varints_cut_inside_a_varint(tmp_path):
    """int32_data whose packed bytes end on a continuation byte, and a count that does not match
    the dims: both are errors, not a short or padded tensor."""
    t = (_len(1, _varint(3)) + _key(2, 0) + _varint(T.INT32) + _len(5, _varint(1) + _varint(2) + b"\x85")
         + _len(8, b"bad"))
    p = tmp_path / "v.onnx"
    p.write_bytes(_len(7, _len(5, t)))
    with pytest.raises(ValueError, match="end inside a varint"):
        list(iter_tensors(p))
    t = _len(1, _varint(3)) + _key(2, 0) + _varint(T.INT32) + _len(5, _varint(1) + _varint(2)) + _len(8, b"short")
    p.write_bytes(_len(7, _len(5, t)))
    with pytest.raises(ValueError, match="2 stored values, shape \\(3,\\) of INT32 needs 3"):
        list(iter_tensors(p))
    t = _len(1, _varint(2)) + _key(2, 0) + _varint(T.FLOAT) + _len(9, b"\x00" * 12) + _len(8, b"raw")
    p.write_bytes(_len(7, _len(5, t)))
    with pytest.raises(ValueError, match="raw_data has 12 bytes, shape \\(2,\\) of FLOAT needs 8"):
        list(iter_tensors(p))


def test_differential_single_byte_corruptions(tmp_path):
    """800 seeded single-byte corruptions of a model's structure (the 4096 weight bytes left intact, a
    change there is undetectable by anyone): the reader raises only ValueError; when it succeeds, its
    tensors are onnx's (when onnx parses the file) or the uncorrupted ones (when onnx rejects damage in
    parts the reader does not read, e.g. a value_info); when only the reader fails, the file has a name
    that is not valid UTF-8 (onnx returns it as bytes) or a graph with nothing in it."""
    import warnings

    g, w = _small_graph(np.random.default_rng(5))
    m = onnx.ModelProto()
    m.graph.CopyFrom(g)
    data = m.SerializeToString()
    orig = [(n, numpy_helper.to_array(t)) for n, t in _ref_walk(m.graph)]
    k0 = data.index(w.tobytes())
    rng = np.random.default_rng(19)
    p = tmp_path / "f.onnx"
    seen = set()
    for _ in range(800):
        b = bytearray(data)
        i = int(rng.integers(0, len(b) - w.nbytes))
        i = i if i < k0 else i + w.nbytes
        b[i] = int(rng.integers(0, 256))
        p.write_bytes(bytes(b))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = [(n, numpy_helper.to_array(t)) for n, t in _ref_walk(onnx.load_model_from_string(bytes(b)).graph)]
        except Exception:
            ref = None
        try:
            got = [(i.name, a) for i, a in iter_tensors(p)]
        except ValueError as exc:
            if ref is not None:
                assert "not valid UTF-8" in str(exc) or ("not an ONNX model" in str(exc) and not ref), (i, exc)
            seen.add("error")
            continue
        expect = ref if ref is not None else orig
        assert [n for n, _ in got] == [n for n, _ in expect], i
        assert all(_same(a, r) for (_, a), (_, r) in zip(got, expect)), i
        seen.add("same as onnx" if ref is not None else "same as uncorrupted")
    assert seen == {"error", "same as onnx", "same as uncorrupted"}


def test_float_model_needs_no_onnx_but_sub_byte_types_do(tmp_path, monkeypatch):
    rng = np.random.default_rng(8)
    w = _rng_weights(rng, (8, 8))
    p = _save(tmp_path, _graph([numpy_helper.from_array(w, "w")]))
    q = _save(tmp_path, _graph([helper.make_tensor("q", T.INT4, [4], [1, -2, 3, -8])]), name="i4.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "onnx.numpy_helper", None)
    (info, a), = list(iter_tensors(p))
    np.testing.assert_array_equal(a, w)
    msg = r"INT4 needs the optional package 'onnx': pip install 'quanttheory\[models\]'"
    with pytest.raises(ValueError, match=msg):
        list(iter_tensors(q))


# --------------------------------------------------------------------------- peak memory
def _big_model(d, external):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(_rng_weights(rng, (2048, 1024)), f"w{i}") for i in range(8)]  # 8 x 8 MB
    d.mkdir()
    kw = dict(save_as_external_data=True, all_tensors_to_one_file=True, location="big.bin",
              size_threshold=0) if external else {}
    return _save(d, _graph(inits), name="big.onnx", **kw)


@pytest.mark.slow
@pytest.mark.parametrize("external", [False, True])
def test_peak_memory_streams_onnx(tmp_path, external):
    """64 MB checkpoint of 8 float32 tensors of 8 MB: ``quanttheory model`` (in-process, amax only,
    one unit per tensor so every tensor goes through the chunked passes) grows the RSS by less than
    2 x 8 MB (the tensor being analyzed and the previous one, still referenced by the caller's loop
    while the next is read) + 16 MB (interpreter and sampling noise and the streamed passes' chunk
    buffers of 65536 values, which do not grow with the tensor; measured ~5 MB above 2x).  The former
    ``onnx.load`` path parsed the whole 64 MB protobuf first and fails this bound by far (RSS 16x the
    tensor for reading alone, see docs/models.md); external data it did not read at all."""
    from quanttheory.models.memory import measure_peak

    p = _big_model(tmp_path / ("ext" if external else "in"), external)
    nbytes = 2048 * 1024 * 4
    m = measure_peak(p, granularity="tensor", methods=["amax"])
    MB = 1 << 20
    assert m.tensors == 8 and m.values == 8 * 2048 * 1024
    assert m.rss_growth < 2 * nbytes + 16 * MB, m
    assert m.tracemalloc_peak < 2 * nbytes + 16 * MB, m


def _real_model():
    p = os.environ.get("QUANTTHEORY_TEST_MODEL") or os.path.join(os.path.dirname(__file__), "data",
                                                                 "silero_vad.onnx")
    return p if os.path.exists(p) and p.endswith(".onnx") else None


@pytest.mark.skipif(_real_model() is None, reason="real model absent: see docs/models.md (pip download silero-vad)")
def test_real_model_bit_for_bit():
    """The silero-vad models (If subgraphs, Constant nodes, fp16 in silero_vad_half.onnx) read exactly
    as onnx reads them (all six ONNX files of silero-vad 6.2.3 were checked when this was written)."""
    assert len(_check_equal(_real_model())) > 10
