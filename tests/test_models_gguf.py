"""GGUF in quanttheory model (issue 19, item 2): stored types, llama.cpp scheme columns.

What is reported and why (docs/models.md): a quantized GGUF tensor is analyzed as dequantized
weights (its float original is not in the file; its own scheme reproduces it exactly, checked
below); for float tensors of a GGUF file, the SQNR of llama.cpp's Q8_0 and Q4_0 quantizers is
reported next to the exact optimum.  References: the Q8_0/Q4_0 definitions computed by hand."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from quanttheory.cli import main

gguf = pytest.importorskip("gguf")
Q = gguf.GGMLQuantizationType


@pytest.fixture(scope="module")
def gfile(tmp_path_factory):
    rng = np.random.default_rng(9)
    w = (rng.standard_t(5, (16, 64)) * 0.05).astype(np.float32)
    h = (rng.standard_normal((8, 96)) * 0.1).astype(np.float16)
    odd = rng.standard_normal((4, 40)).astype(np.float32)  # 40: not a multiple of 32
    p = tmp_path_factory.mktemp("g") / "m.gguf"
    wr = gguf.GGUFWriter(str(p), "test")
    wr.add_tensor("w", w)
    wr.add_tensor("h", h)
    wr.add_tensor("odd", odd)
    for qt in (Q.Q8_0, Q.Q4_0):
        q = gguf.quants.quantize(w, qt)
        wr.add_tensor(qt.name.lower(), q, raw_shape=q.shape, raw_dtype=qt)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return p, {"w": w, "h": h, "odd": odd}


def _hand_q8_0(x):
    b = x.astype(np.float64).reshape(-1, 32)
    d = (np.abs(b).max(axis=1) / 127)[:, None]  # rounding uses d; the stored scale is float16(d)
    q = np.rint(b / np.where(d > 0, d, 1))
    return (q * d.astype(np.float16).astype(np.float64)).reshape(x.shape)


def _hand_q4_0(x):
    b = x.astype(np.float64).reshape(-1, 32)
    i = np.argmax(np.abs(b), axis=1)
    d = (b[np.arange(b.shape[0]), i] / -8)[:, None]  # rounding uses d; the stored scale is float16(d)
    q = np.clip(np.trunc(b / np.where(d != 0, d, 1) + 8.5), 0, 15)
    return ((q - 8) * d.astype(np.float16).astype(np.float64)).reshape(x.shape)


def _sqnr(x, y):
    x = x.astype(np.float64)
    return 10 * math.log10(np.sum(x * x) / np.sum((x - y) ** 2))


@pytest.mark.parametrize("qt", [Q.Q8_0, Q.Q4_0])
def test_own_scheme_reproduces_dequantized_tensor(qt):
    """Why no 'own error' is reported for stored quantized tensors: re-quantizing the dequantized
    tensor with its scheme gives back the same bytes (zero error), and the float original is absent."""
    w = np.random.default_rng(1).standard_normal((8, 128)).astype(np.float32)
    q = gguf.quants.quantize(w, qt)
    deq = gguf.quants.dequantize(q, qt)
    np.testing.assert_array_equal(gguf.quants.quantize(deq.astype(np.float32), qt), q)


def test_gguf_columns(gfile, tmp_path):
    p, arr = gfile
    out = tmp_path / "o"
    assert main(["model", str(p), "--format", "int8", "--granularity", "group:32", "--out", str(out),
                 "--workers", "1", "--quiet", "--no-figure"]) == 0
    rows = {r["tensor"]: r for r in csv.DictReader(open(out / "report.csv"))}
    assert {k: r["gguf_type"] for k, r in rows.items()} == {"w": "F32", "h": "F16", "odd": "F32",
                                                           "q8_0": "Q8_0", "q4_0": "Q4_0"}
    for name in ("w", "h"):
        x = arr[name]
        # tolerance: llama.cpp's reference multiplies by 1/d in float32; ties have probability 0
        assert float(rows[name]["sqnr_db_gguf_q8_0"]) == pytest.approx(_sqnr(x, _hand_q8_0(x)), abs=1e-3)
        assert float(rows[name]["sqnr_db_gguf_q4_0"]) == pytest.approx(_sqnr(x, _hand_q4_0(x)), abs=1e-3)
        # the exact INT8 optimum per group of 32 (levels -128..127, any real scale) contains Q8_0's grid
        assert float(rows[name]["sqnr_db_exact"]) >= float(rows[name]["sqnr_db_gguf_q8_0"]) - 1e-9
    for name in ("odd", "q8_0", "q4_0"):  # no float tensor / no 32-multiple: not applicable
        assert rows[name]["sqnr_db_gguf_q8_0"] == "nan"
    # a stored Q4_0 tensor lies on a 16-level grid per block of 32: the exact INT8 (and INT4) optimum
    # per group of 32 reproduces it up to rounding, which the report shows as a very large SQNR
    assert float(rows["q4_0"]["sqnr_db_exact"]) > 200
    summ = (out / "summary.md").read_text()
    assert "## GGUF" in summ and "Q4_0: 1" in summ


def test_non_gguf_has_no_gguf_columns(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(p, a=np.random.default_rng(0).standard_normal((4, 64)))
    out = tmp_path / "o"
    assert main(["model", str(p), "--out", str(out), "--workers", "1", "--quiet", "--no-figure"]) == 0
    assert "gguf_type" not in open(out / "report.csv").readline()
