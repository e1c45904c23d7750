"""Candidate scales for the uncertified scale search of off-centre narrow laws (audit F2).

A law whose mass sits in a narrow bump far from 0 (``|loc| >> width``) has a risk curve with one
dip per lattice alignment of the bump, ``s ~ loc / k`` (``k`` a grid index, or a half-integer where
the bump straddles the last cell and the clipping region): dips of relative width ~``width / |loc|``
that a 161-point log scan (relative step 6 %) misses.  :func:`alignment_scales` lists those
alignments for every such bump so that the search can evaluate them and Brent-refine the lowest.
"""

from __future__ import annotations

import math

import numpy as np

OFFCENTRE = 4.0      # |loc| / width above which the alignments are added
MAX_K_PER_WIDTH = 4.0  # alignments with s = |loc| / k < width / 4 are not resolved dips (k <= 4 |loc| / width)
MAX_CANDIDATES = 4096


def _bumps(law):
    """``[(loc, width), ...]``: the location and width of each unimodal piece of ``law`` (None: unknown)."""
    comps = law.components()
    if comps:
        out = []
        for _, c in comps:
            sub = _bumps(c)
            if sub is None:
                return None
            out.extend(sub)
        return out
    sk = law.shape_kernel()
    if sk is not None:
        return [(float(sk[2]), float(sk[3]))]
    kp = law.kernel_params()
    if kp is not None:
        return [(float(kp[1]), float(kp[2]))]
    frozen = getattr(law, "frozen", None)
    if frozen is not None:
        try:
            q1, q2, q3 = (float(v) for v in frozen.ppf([0.25, 0.5, 0.75]))
        except Exception:  # pragma: no cover - a scipy law without a usable ppf
            return None
        if all(map(math.isfinite, (q1, q2, q3))) and q3 > q1:
            return [(q2, (q3 - q1) / 1.349)]  # the IQR of a normal law is 1.349 sigma
    return None


def alignment_scales(law, grid) -> np.ndarray:
    """Scales ``|loc| / k`` for ``k = 1, 3/2, 2, ...`` up to the grid's last index on the bump's side
    plus 1/2, for each bump with ``|loc| > OFFCENTRE * width`` (empty for centred laws)."""
    bumps = _bumps(law)
    if not bumps:
        return np.empty(0)
    out = []
    for loc, width in bumps:
        if not (width > 0 and abs(loc) > OFFCENTRE * width):
            continue
        kmax = grid.r_t if loc > 0 else -grid.r_b
        if kmax < 1:
            continue
        kmax = min(kmax + 0.5, MAX_K_PER_WIDTH * abs(loc) / width)
        ks = np.arange(2, int(2 * kmax) + 1) / 2.0
        out.append(abs(loc) / ks)
    if not out:
        return np.empty(0)
    s = np.unique(np.concatenate(out))
    if s.size > MAX_CANDIDATES:  # keep the largest scales (the resolved dips)
        s = s[-MAX_CANDIDATES:]
    return s
