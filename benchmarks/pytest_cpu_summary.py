"""Summarize pytest_cpu_plugin output: python benchmarks/pytest_cpu_summary.py FILE.lines [n_files] [n_tests]."""
import json, sys, collections
f = sys.argv[1]
rows = [json.loads(l) for l in open(f)]
byfile = collections.defaultdict(lambda: [0,0,0,0])
for nid, cpu, wall, comp in rows:
    fn = nid.split("::")[0]
    b = byfile[fn]; b[0]+=cpu; b[1]+=wall; b[2]+=comp; b[3]+=1
tot = [sum(r[i] for r in rows) for i in (1,2,3)]
print(f"n={len(rows)} cpu={tot[0]:.1f} wall={tot[1]:.1f} compile={tot[2]:.1f}")
for fn, b in sorted(byfile.items(), key=lambda kv: -kv[1][0])[:int(sys.argv[2]) if len(sys.argv)>2 else 40]:
    print(f"{b[0]:8.1f} cpu {b[2]:7.1f} comp {b[1]:8.1f} wall {b[3]:5d}  {fn}")
if len(sys.argv)>3:
    print("--- top tests")
    for r in sorted(rows, key=lambda r: -r[1])[:int(sys.argv[3])]:
        print(f"{r[1]:8.1f} cpu {r[3]:7.1f} comp  {r[0]}")
