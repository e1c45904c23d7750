"""Shared piece ends of the exact MX oracle (quanttheory/blocks/expectation_oracle.py, docs/blocks.md §2f
"Shared ends"): where both ``2 X0`` and ``X0/2`` are candidates, the coarse candidate's upper end ``r =
2^(emax+1)`` of one binade and the fine candidate's lower end ``r = 2^emax`` of the next are the same block
absmax ``m`` with the same two grids in swapped roles, so their telescoped statistics are equal and cancel:

* ``E_m|S|``: ``S_fine = -S_coarse``;
* saturation: coarse ``nu6(S <= 0) + nu4(S > 0)`` = ``E[c_a; S_c <= 0] + E[c_b; S_c > 0]`` (``c_a``, ``c_b``
  clipped by the smaller / larger scale); fine (roles swapped, ``S_f = -S_c``) ``E[c_b; S_c >= 0] + E[c_a;
  S_c < 0]`` plus the tie term ``E[c_a - c_b; S_c = 0]`` (ties go to the smaller scale): the same sum.

Checked here on the kernel's own values (equal within their bounds: an independent computation of each
side) and on the whole expectation with and without the cancellation (``cancel=False``: every end by the
series, as before), within the sum of both bounds.
"""

import numpy as np
import pytest

from quanttheory.blocks import get_block_format
from quanttheory.blocks._expect_46 import telescoped_stats
from quanttheory.blocks.expectation_oracle import _tie_sat, block_mse_oracle
from quanttheory.laws import Laplace, Normal


@pytest.mark.parametrize("fmt,m,k,law", [("mxint8", 2.0, 32, Normal()), ("mxint8", 1.0, 8, Laplace(0.3, 0.7)),
                                         ("mxfp4", 8.0, 32, Normal()), ("mxfp6_e2m3", 4.0, 32, Laplace())])
def test_shared_end_statistics_equal(fmt, m, k, law):
    bf = get_block_format(fmt, block=k)
    code, loc, scale = int(law.kernel_params()[0]), float(law.kernel_params()[1]), float(law.kernel_params()[2])
    emax = {"mxint8": 0, "mxfp4": 2, "mxfp6_e2m3": 2}[fmt]
    Xb = m / 2.0 ** emax                     # the fine candidate's X0 at its lower end r = 2^emax
    Xa = Xb / 2                              # the coarse candidate's X0 at its upper end r = 2^(emax+1)
    ms = np.array([m, m])
    X6, X4 = np.array([Xa, Xb]), np.array([Xb, Xa])     # coarse (X0, 2 X0), fine (X0, X0/2)
    lo, hi = float(bf.fmt.levels[0]), float(bf.fmt.levels[-1])
    needs = np.array([[False, m > X * hi or -m < X * lo, m > Y * hi or -m < Y * lo] for X, Y in zip(X6, X4)])
    res = telescoped_stats(code, loc, scale, bf.fmt, ms, X6, X4, k, np.full(2, 1e-15), needs, np.full(2, 1e-12),
                           np.full(2, 1e-12))
    assert abs(res.abs_S[0] - res.abs_S[1]) <= res.err_abs[0] + res.err_abs[1] + 1e-15 * res.abs_S[0]
    assert res.abs_S[0] > 1e3 * (res.err_abs[0] + res.err_abs[1])         # not trivially 0
    nu = [np.where(needs[i, 1], res.nu6_le[i], 0.0) + np.where(needs[i, 2], res.nu4_pos[i], 0.0) for i in (0, 1)]
    G = float(law.cdf(m) - law.cdf(-m))
    tie = float(_tie_sat(law, bf.fmt, ms[1:], X6[1:], X4[1:], k)[0]) / G ** k     # (per block with M <= m)
    # (the tie term is 0 here: at r = 2^emax MXINT8's tie band x in (-(1 + 1/128), -1] X0 is cut to a point
    # by |x| <= m; the identity needs it in general)
    assert abs(nu[0] - (nu[1] + tie)) <= res.err_nu[0] + res.err_nu[1] + 1e-15
    assert max(nu) > 1e3 * (res.err_nu[0] + res.err_nu[1])


@pytest.mark.parametrize("fmt,k,law", [("mxint8", 32, Normal()), ("mxint8", 32, Laplace(0.3, 0.7)),
                                       ("mxfp4", 32, Laplace()), ("mxfp6_e2m3", 32, Normal()),
                                       ("mxint8", 2, Laplace())])
def test_cancel_same_value(fmt, k, law):
    b1, r1 = block_mse_oracle(law, fmt, block=k, full=True)
    b0, r0 = block_mse_oracle(law, fmt, block=k, full=True, cancel=False)
    assert abs(b1.mse - b0.mse) <= b1.error_estimate + b0.error_estimate
    assert abs(r1.saturation - r0.saturation) <= r1.error + r0.error
    assert b1.error_estimate <= 1e-9 * b1.mse and r1.error <= 1e-9
