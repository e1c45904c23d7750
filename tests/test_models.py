"""quanttheory model: readers, exactness of the per-unit numbers, executors, outputs, bad input (issue 19).

Reference values are computed here independently of the package: quantization errors by
explicit NumPy rounding, SQNR by its definition, the exact optimum against a dense scale scan.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import struct
import sys
from contextlib import contextmanager

import numpy as np
import pytest

from quanttheory.cli import main
from quanttheory.models.readers import iter_tensors
from quanttheory.models.report import atomic_write
from quanttheory.models.run import analyze_model
from quanttheory.models.tasks import analyze_block, get_format

ml_dtypes = pytest.importorskip("ml_dtypes")


def _strict(s):
    def bad(c):
        raise ValueError(f"non-standard JSON constant {c}")
    return json.loads(s, parse_constant=bad)


@contextmanager
def deadline(seconds):
    """Fail (instead of hanging CI) if the block runs longer than ``seconds``."""
    def handler(signum, frame):
        raise TimeoutError(f"test exceeded {seconds} s")
    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _weights(rng, shape, dist="normal"):
    if dist == "laplace":
        return rng.laplace(0, 0.05, shape).astype(np.float32)
    return (rng.standard_normal(shape) * 0.05).astype(np.float32)


def _write_bf16_safetensors(path, tensors):
    """Minimal safetensors writer (the format: u64 header length, JSON header, raw bytes) for BF16,
    which safetensors.numpy cannot save; read back with safetensors' own parser below."""
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr.astype(ml_dtypes.bfloat16)).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# --------------------------------------------------------------------------- fixtures: files of each kind
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    st = pytest.importorskip("safetensors.numpy")
    onnx = pytest.importorskip("onnx")
    gguf = pytest.importorskip("gguf")
    from onnx import helper, numpy_helper

    d = tmp_path_factory.mktemp("ckpt")
    rng = np.random.default_rng(19)
    w1 = _weights(rng, (16, 64))
    w2 = _weights(rng, (8, 4, 8), "laplace")
    bias = _weights(rng, (16,))
    out = {"arrays": {"w1": w1, "w2": w2, "bias": bias}}

    p = d / "m.safetensors"
    st.save_file({"w1": w1, "w2": w2, "bias": bias, "h": w1.astype(np.float16),
                  "ids": np.arange(12, dtype=np.int64).reshape(3, 4)}, str(p))
    out["safetensors"] = p

    p = d / "bf16.safetensors"
    _write_bf16_safetensors(p, {"w1": w1})
    out["bf16"] = p

    p = d / "m.onnx"
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(bias, "bias"),
             numpy_helper.from_array(np.array([1, 2], dtype=np.int64).reshape(1, 2), "shape_const")]
    node = helper.make_node("Gemm", ["x", "w1", "bias"], ["y"], transB=1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16])], inits)
    onnx.save(helper.make_model(graph), str(p))
    out["onnx"] = p

    p = d / "m.gguf"
    wr = gguf.GGUFWriter(str(p), "test")
    wr.add_tensor("w1", w1)
    wr.add_tensor("h", w1.astype(np.float16))
    q8 = gguf.quants.quantize(w1, gguf.GGMLQuantizationType.Q8_0)
    wr.add_tensor("q8", q8, raw_shape=q8.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    out["gguf"] = p
    out["q8_deq"] = gguf.quants.dequantize(q8, gguf.GGMLQuantizationType.Q8_0)

    p = d / "m.npz"
    np.savez(p, w1=w1, w2=w2, bias=bias)
    out["npz"] = p
    p = d / "w1.npy"
    np.save(p, w1)
    out["npy"] = p
    nan = w1.copy()
    nan[3, 5] = np.nan
    p = d / "nan.npz"
    np.savez(p, good=w1, bad=nan)
    out["nan"] = p
    return out


# --------------------------------------------------------------------------- readers
def test_safetensors_reader_matches_library(files):
    from safetensors import safe_open

    got = {i.name: np.array(a) for i, a in iter_tensors(files["safetensors"])}
    with safe_open(str(files["safetensors"]), framework="numpy") as f:
        for k in f.keys():
            np.testing.assert_array_equal(got[k], f.get_tensor(k))
            assert got[k].dtype == f.get_tensor(k).dtype


def test_bf16_safetensors(files):
    (info, a), = list(iter_tensors(files["bf16"]))
    assert info.dtype == "BF16" and a.dtype == np.dtype(ml_dtypes.bfloat16)
    ref = files["arrays"]["w1"].astype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(np.asarray(a, np.float32), ref.astype(np.float32))


def test_onnx_reader(files):
    got = {i.name: a for i, a in iter_tensors(files["onnx"])}
    np.testing.assert_array_equal(got["w1"], files["arrays"]["w1"])
    assert got["shape_const"].dtype == np.int64


def test_gguf_reader_dequantizes(files):
    got = {i.name: (i, a) for i, a in iter_tensors(files["gguf"])}
    np.testing.assert_array_equal(got["w1"][1], files["arrays"]["w1"])
    np.testing.assert_array_equal(got["h"][1], files["arrays"]["w1"].astype(np.float16))
    info, q = got["q8"]
    assert info.dtype == "Q8_0" and q.shape == (16, 64)
    np.testing.assert_array_equal(q, files["q8_deq"].reshape(16, 64))
    # Q8_0: d = max|block|/127 per 32 values, q = rint(x/d), d stored as float16 (relative error
    # <= 2**-11), so |x - q d16| <= d/2 + 127 |d - d16| <= d (1/2 + 127 * 2**-11)
    w = files["arrays"]["w1"].reshape(-1, 32).astype(np.float64)
    step = np.abs(w).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(q.reshape(-1, 32) - w) <= step * (0.5 + 127 * 2.0**-11) * (1 + 1e-6))


# --------------------------------------------------------------------------- numbers
def _hand_sse_int(x, s, bits):
    q = np.clip(np.rint(x / s), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return float(np.sum((x - s * q) ** 2))


def test_block_numbers_against_hand_computation():
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((6, 200)) * np.array([[0.1], [1], [3], [0.02], [7], [1]])
    r = analyze_block("t", 0, rows, "int4", False)
    # maxabs: s = max(max(x)/7, -min(x)/8) per row, SSE by explicit rounding
    ref = sum(_hand_sse_int(x, max(x.max() / 7, -x.min() / 8), 4) for x in rows)
    assert r.sse["maxabs"] == pytest.approx(ref, rel=1e-12)
    assert r.energy == pytest.approx(float(np.sum(rows**2)), rel=1e-12)
    # the exact optimum is the minimum of a dense scan of scales (within the scan resolution)
    dense = 0.0
    for x in rows:
        m = np.abs(x).max()
        ss = np.linspace(m / 400, m / 4, 20000)[:, None]
        err = x[None, :] - ss * np.clip(np.rint(x[None, :] / ss), -8, 7)
        dense += float(np.min(np.sum(err**2, axis=1)))
    assert r.sse["exact"] <= dense * (1 + 1e-12)
    assert r.sse["exact"] >= dense * (1 - 2e-3)
    for m, v in r.sse.items():  # nothing beats the exact optimum
        assert r.sse["exact"] <= v * (1 + 1e-12), m
    assert set(r.sse) == {"exact", "maxabs", "percentile", "sweep20", "sweep39", "sweep80", "sweep126",
                          "histogram", "octav", "aciq_gauss", "aciq_laplace"}


def test_affine_block_exact_not_beaten_and_hand_minmax():
    rng = np.random.default_rng(2)
    rows = rng.gamma(2.0, 1.0, (4, 128)) - 0.5
    rows[2] = 1.25  # constant row: zero error for every method
    r = analyze_block("t", 0, rows, "int4", True)
    ref = 0.0
    for x in rows:
        if np.ptp(x) == 0:
            continue
        lo, hi = min(x.min(), 0), max(x.max(), 0)
        s = (hi - lo) / 15
        z = np.clip(-np.rint(lo / s), 0, 15)
        ref += float(np.sum((x - s * (np.clip(np.rint(x / s) + z, 0, 15) - z)) ** 2))
    assert r.sse["minmax"] == pytest.approx(ref, rel=1e-12)
    # integer zero-point form: the exact optimum beats min-max; real-offset form (contains the
    # integer form): its exact optimum beats HQQ, llama.cpp and the integer-form optimum
    assert r.sse["exact"] <= r.sse["minmax"] * (1 + 1e-9)
    for m in ("hqq", "llamacpp", "exact"):
        assert r.sse["exact_offset"] <= r.sse[m] * (1 + 1e-9), m


def test_unknown_format_and_granularity():
    with pytest.raises(ValueError, match="unknown format"):
        get_format("e9m9")
    with pytest.raises(ValueError, match="granularity"):
        analyze_model("x.npz", granularity="rows")


def test_report_csv_sqnr_matches_definition(files, tmp_path):
    out = tmp_path / "o"
    rc = main(["model", str(files["npz"]), "--out", str(out), "--workers", "1", "--quiet", "--granularity",
               "group:32"])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "report.csv")))
    assert [r["tensor"] for r in rows] == ["w1", "w2"]
    for r in rows:
        x = files["arrays"][r["tensor"]].astype(np.float64).reshape(-1, 32)
        sse = sum(_hand_sse_int(g, max(g.max() / 7, -g.min() / 8), 4) for g in x)
        assert float(r["sqnr_db_maxabs"]) == pytest.approx(10 * math.log10(np.sum(x**2) / sse), abs=1e-4)
        assert float(r["sqnr_db_exact"]) >= max(float(v) for k, v in r.items() if k.startswith("sqnr_db_")) - 1e-9
    summ = (out / "summary.md").read_text()
    assert "bias" in summ and "1-D" in summ  # skipped tensors listed by name
    png = (out / "sqnr.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- every reader end to end
@pytest.mark.parametrize("kind", ["safetensors", "bf16", "onnx", "gguf", "npz", "npy"])
def test_cli_every_reader(files, tmp_path, kind, capsys):
    rc = main(["model", str(files[kind]), "--out", str(tmp_path), "--workers", "1", "--json", "--no-figure"])
    assert rc == 0
    doc = _strict(capsys.readouterr().out)
    assert doc["tensors"] >= 1 and doc["sqnr_db"]["exact"] >= max(doc["sqnr_db"].values()) - 1e-9
    if kind == "safetensors":
        skipped = {s["tensor"] for s in doc["skipped"]}
        assert skipped == {"bias", "ids"}


# --------------------------------------------------------------------------- executors give identical numbers
def _totals(res):
    return [(t.name, t.energy, dict(sorted(t.sse.items()))) for t in res.tensors]


def test_process_pool_equals_in_process(files):
    kw = dict(granularity="channel", block_values=256)  # several blocks per tensor
    a = analyze_model(files["npz"], workers=1, **kw)
    with deadline(120):
        b = analyze_model(files["npz"], workers=2, **kw)
    assert _totals(a) == _totals(b)


def test_dask_local_cluster_equals_in_process(files):
    distributed = pytest.importorskip("distributed")
    kw = dict(granularity="channel", block_values=256)
    a = analyze_model(files["npz"], workers=1, **kw)
    with deadline(120):
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster:
            b = analyze_model(files["npz"], dask=cluster.scheduler_address, dask_timeout=20, **kw)
    assert _totals(a) == _totals(b)


# --------------------------------------------------------------------------- bad input
def _err(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err


def _w(p, data):
    p.write_bytes(data)
    return p


_JUNK = np.random.default_rng(7).bytes(40)


@pytest.mark.parametrize("make, msg", [
    (lambda d: d / "missing.safetensors", "no such file"),
    (lambda d: _w(d / "empty.onnx", b""), "empty file"),
    (lambda d: _w(d / "x.pt", b"abc"), "unknown checkpoint extension"),
    (lambda d: _w(d / "c.safetensors", b"\xff" * 64), "corrupt"),
    (lambda d: _w(d / "c2.safetensors", struct.pack("<Q", 12) + b"{not json!!}"), "corrupt"),
    (lambda d: _w(d / "c.gguf", b"GGUF" + _JUNK), "GGUF"),
    (lambda d: _w(d / "c.onnx", b"\xff" * 50), "ONNX"),
    (lambda d: _w(d / "c.npz", b"PK\x03\x04junk"), "npz"),
    (lambda d: _w(d / "c.npy", b"\x93NUMPY junk"), "npy"),
    (lambda d: _w(d / "dir.npz", b"") and (d / "dir.npz").unlink() or (d / "dir.npz").mkdir() or d / "dir.npz", "directory"),
])
def test_bad_files_one_line_error(tmp_path, capsys, make, msg):
    p = make(tmp_path)
    rc, err = _err(capsys, ["model", str(p), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"])
    assert rc == 2 and msg in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("kind", ["safetensors", "gguf", "onnx", "npy"])
def test_truncated_file(files, tmp_path, capsys, kind):
    data = files[kind].read_bytes()
    p = tmp_path / ("t" + files[kind].suffix)
    p.write_bytes(data[: len(data) * 2 // 3])
    rc, err = _err(capsys, ["model", str(p), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"])
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err


def test_nonfinite_listed_skipped_and_exit_status(files, tmp_path, capsys):
    rc, err = _err(capsys, ["model", str(files["nan"]), "--out", str(tmp_path), "--workers", "1", "--quiet"])
    assert rc == 3 and "bad" in err and err.count("\n") == 1
    assert "bad" in (tmp_path / "summary.md").read_text().split("Non-finite")[1]
    rows = list(csv.DictReader(open(tmp_path / "report.csv")))
    assert [r["tensor"] for r in rows] == ["good"]
    rc = main(["model", str(files["nan"]), "--out", str(tmp_path), "--workers", "1", "--quiet",
               "--allow-nonfinite"])
    assert rc == 0


def test_include_and_nothing_selected(files, tmp_path, capsys):
    rc = main(["model", str(files["npz"]), "--out", str(tmp_path), "--workers", "1", "--quiet",
               "--include", "^w2$", "--no-figure"])
    assert rc == 0 and [r["tensor"] for r in csv.DictReader(open(tmp_path / "report.csv"))] == ["w2"]
    rc, err = _err(capsys, ["model", str(files["npz"]), "--out", str(tmp_path), "--workers", "1", "--quiet",
                            "--include", "nomatch"])
    assert rc == 2 and "no tensor" in err
    rc, err = _err(capsys, ["model", str(files["npz"]), "--out", str(tmp_path), "--include", "("])
    assert rc == 2 and "regular expression" in err


def test_missing_extra_message(files, monkeypatch):
    # the ONNX reader walks the protobuf itself (no onnx needed for float tensors, see
    # tests/test_models_onnx_stream.py for its own missing-extra case); GGUF still needs gguf
    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(ValueError, match=r"pip install 'quanttheory\[models\]'"):
        list(iter_tensors(files["gguf"]))


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "report.csv"
    atomic_write(p, "old\n")

    class Boom:
        def encode(self):
            raise RuntimeError("crash while writing")
    with pytest.raises(Exception):
        atomic_write(p, Boom())
    assert p.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["report.csv"]  # no temporary file left behind


# --------------------------------------------------------------------------- a real trained model
def _real_model():
    p = os.environ.get("QUANTTHEORY_TEST_MODEL") or os.path.join(os.path.dirname(__file__), "data",
                                                                 "silero_vad.onnx")
    return p if os.path.exists(p) else None


@pytest.mark.skipif(_real_model() is None, reason="real model absent: see docs/models.md (pip download silero-vad)")
def test_real_trained_model(tmp_path, capsys):
    pytest.importorskip("onnx")
    # the encoder convolutions (4 tensors, ~70k weights) keep the test within seconds; the whole
    # model (16 tensors) takes ~30 s on one core
    rc = main(["model", _real_model(), "--out", str(tmp_path), "--workers", "1", "--json",
               "--include", r"encoder\.\d\.reparam_conv\.weight$", "--no-figure"])
    assert rc == 0
    doc = _strict(capsys.readouterr().out)
    assert doc["tensors"] >= 4
    for r in csv.DictReader(open(tmp_path / "report.csv")):
        ex = float(r["sqnr_db_exact"])
        assert all(ex >= float(v) - 1e-9 for k, v in r.items() if k.startswith("sqnr_db_"))
