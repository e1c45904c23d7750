"""Independent mpmath reference for the Normal/Laplace risk curves (per-cell quad at 50 digits), used by
tests/test_optimum_fewcell_far.py. Nothing from quanttheory is used: the density, the cells and the
regularizer (MSQE pi^2 (x - q(x))^2, QSin s^2 sin^2(pi x / s) inside the grid, pi^2 (x - end)^2 outside)
are written out from docs/SPEC definitions."""
import mpmath as mp


def ref_risk(law, loc, scale, relu, rb, rt, s, reg, dps=50):
    """Risk (data units) of law ("normal"/"laplace")(loc, scale), ReLU'd when relu, on the grid
    points k s, rb <= k <= rt, for the regularizer reg ("msqe" or "qsin")."""
    with mp.workdps(dps):
        loc, sig, s = mp.mpf(loc), mp.mpf(scale), mp.mpf(s)
        L = mp.mpf(60) if law == "normal" else mp.mpf(dps * 3 + 60)
        if law == "normal":
            dens = lambda z: mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)
        else:
            dens = lambda z: mp.exp(-abs(z)) / 2
        zlo_law = -L
        if relu:
            zlo_law = max(zlo_law, -loc / sig)  # the mass below 0 sits at 0: a grid point, zero error

        def integ(g, xlo, xhi):  # int g(x) f(x) dx over [xlo, xhi] (x = loc + sig z)
            zl = max((xlo - loc) / sig, zlo_law) if xlo != -mp.inf else zlo_law
            zh = min((xhi - loc) / sig, L) if xhi != mp.inf else L
            if zh <= zl:
                return mp.mpf(0)
            pts = [zl] + [p for p in (-30, -10, -3, -1, 0, 1, 3, 10, 30) if zl < p < zh] + [zh]
            return mp.quad(lambda z: g(loc + sig * z) * dens(z), pts)

        tot = mp.mpf(0)
        if reg == "msqe":
            for k in range(rb, rt + 1):
                lo = -mp.inf if k == rb else (k - mp.mpf(1) / 2) * s
                hi = mp.inf if k == rt else (k + mp.mpf(1) / 2) * s
                if (lo != -mp.inf and lo > loc + L * sig) or (hi != mp.inf and hi < loc - L * sig):
                    continue
                c = k * s
                tot += integ(lambda x, c=c: (x - c) ** 2, lo, hi)
            if not relu and rb == 0:
                pass  # (x < -s/2 is in cell 0's range already: lo = -inf)
            tot *= mp.pi ** 2
        else:
            a, b = rb * s, rt * s
            tot += mp.pi ** 2 * integ(lambda x: (x - a) ** 2, -mp.inf, a)
            tot += mp.pi ** 2 * integ(lambda x: (x - b) ** 2, b, mp.inf)
            for k in range(rb, rt):
                lo, hi = k * s, (k + 1) * s
                if lo > loc + L * sig or hi < loc - L * sig:
                    continue
                tot += integ(lambda x: s * s * mp.sin(mp.pi * x / s) ** 2, lo, hi)
        return tot
