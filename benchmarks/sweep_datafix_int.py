"""Ad-hoc sweeps of 2026-12-01 (audit finding 28 follow-up): the symmetric integer engine (optimal_scale_data)
and the integer zero-point engine (optimal_affine_data, z in 0..N) on large-mean, tiny-spread data (and a
subnormal) against the exact Fraction brute force of tests/test_audit7_datafix.py.  Run from the repository root:
PYTHONPATH=. python benchmarks/sweep_datafix_int.py"""
import sys; sys.path.insert(0,'tests')
import numpy as np
from fractions import Fraction as Fr
from test_audit7_datafix import fmt_bf
from quanttheory import optimal_scale_data
from quanttheory.formats import Grid, as_format
rng=np.random.default_rng(5); bad=0
for t in range(40):
    n=int(rng.integers(2,6)); b=int(rng.integers(2,5))
    x=24.25+rng.standard_normal(n)*10.0**rng.uniform(-8,-2)
    try:
        lv=[Fr(float(v)) for v in as_format(Grid(b)).levels]
    except Exception as e:
        print("no as_format(Grid)",e); break
    r=optimal_scale_data(x,b)
    ex=fmt_bf(x,lv); lb=Fr(float(r.risk_lower_bound/np.pi**2)) if hasattr(r,'risk_lower_bound') else None
    if lb>ex: bad+=1; print("SYM",b,x.tolist(),float(lb),float(ex))
print("sym bad",bad)

from quanttheory.affine import optimal_affine_data
rng=np.random.default_rng(7); bad=0; below=0
for t in range(40):
    n=int(rng.integers(2,6)); b=int(rng.integers(1,4)); N=2**b-1
    x=rng.choice([24.25,-3.5,1e3])+rng.standard_normal(n)*10.0**rng.uniform(-8,0)
    if rng.random()<0.3: x[0]=1e-310
    r=optimal_affine_data(x,b)
    ex=min(fmt_bf(x,[Fr(k-z) for k in range(N+1)]) for z in range(N+1))
    if Fr(float(r.mse_lower_bound))>ex: bad+=1; print("ZP lb>exact",b,x.tolist(),r.mse_lower_bound,float(ex))
    if r.mse < float(ex)*(1-1e-12): below+=1
    elif abs(r.mse-float(ex))>1e-9*float(ex)+1e-30: print("ZP mse off",b,x.tolist(),r.mse,float(ex))
print("zp bad",bad,"engine below z-in-[0,N] brute force",below)
