#!/usr/bin/python3
"""summary.py RESULTS.tsv [MARGIN]: the doctor benchmark's table (run.sh writes RESULTS.tsv).

detection: a broken case whose advise run names a problem its `expect` line
lists. false positive: a healthy case with any problem. repaired: the repair
run's final test accuracy is within MARGIN (0.05) of the best healthy case of
the same family. gain: repaired minus broken final test accuracy (a run that
stopped before its first evaluation counts at chance, 1/K). Exit status 1
when a detection is missed or a healthy case is flagged (for CTest).
"""
import csv, sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
margin = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
K = {"spiral": 3, "teacher": 3, "fmnist": 10}


def acc(x, fam):
    try:
        return float(x)
    except ValueError:
        return 1.0 / K.get(fam, 2)


healthy = [r for r in rows if r["expect"] == "none"]
broken = [r for r in rows if r["expect"] != "none"]
best = {}
for r in healthy:
    best[r["family"]] = max(best.get(r["family"], 0.0), acc(r["advise_acc"], r["family"]))
detected = [r for r in broken if r["problem"] in r["expect"].split("|")]
fp = [r for r in healthy if r["problem"] != "none"]
repaired = [r for r in broken if r["family"] in best and acc(r["repair_acc"], r["family"]) >= best[r["family"]] - margin]
gain = [acc(r["repair_acc"], r["family"]) - acc(r["advise_acc"], r["family"]) for r in broken]
wall = [float(r["total_s"]) for r in rows]
pct = lambda a, b: f"{100.0 * a / b:.1f} % ({a}/{b})" if b else "-"
print("| measure | gradscope | AutoTrainer (published) |")
print("|---|---|---|")
print(f"| detection (right symptom) | {pct(len(detected), len(broken))} | 100 % |")
print(f"| false positives on healthy configs | {pct(len(fp), len(healthy))} | 0 |")
print(f"| repaired (within {margin:g} of the family's best healthy accuracy) | {pct(len(repaired), len(broken))} | 98.42 % |")
print(f"| mean accuracy gain of a repair | {sum(gain) / max(len(gain), 1):+.3f} | +0.3642 |")
print(f"| wall time per case (advise + repair, 1 rank) | {sum(wall) / max(len(wall), 1):.1f} s | - |")
print(f"\nbest healthy accuracy per family: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(best.items())))
for r in broken:
    if r not in detected:
        print(f"missed: {r['case']}: expected {r['expect']}, the doctor said {r['problem']}")
    if r not in repaired:
        print(f"not repaired: {r['case']}: {r['problem']}, accuracy {r['advise_acc']} -> {r['repair_acc']} (exit {r['repair_rc']})")
for r in fp:
    print(f"false positive: {r['case']}: {r['problem']}")
sys.exit(1 if fp or len(detected) < len(broken) else 0)
