"""CLI start time: `homelab-kit inventory` and `lint` on the demo lab vs a bare `python3 -c pass`.

Prints the median of several runs and the ratio (target ≤ 5×), and checks with `-X importtime`
that these fast paths import neither pandas nor matplotlib. Builds the demo lab if it is missing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = Path(os.environ.get("HOMELAB_LAB") or ROOT / "data/demo/lab.toml")
REPEAT = int(os.environ.get("BENCH_REPEAT", "9"))
HEAVY = ("pandas", "matplotlib", "numpy", "fabric", "paramiko")


def seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def medians(commands: dict[str, list[str]]) -> dict[str, float]:
    """Interleaved repetitions (a, b, c, a, b, c, ...) so background load hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(REPEAT):
        for name, argv in commands.items():
            times[name].append(seconds(argv))
    return {k: statistics.median(v) for k, v in times.items()}


def heavy_imports(args: list[str]) -> list[str]:
    code = f"import sys; sys.argv = ['homelab-kit', *{args!r}]; from homelab_kit.cli import main; main(sys.argv[1:])"
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True
    )
    names = {
        line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line
    }
    return sorted(names & set(HEAVY))


def main() -> int:
    if not LAB.exists():
        build = f"from homelab_kit.cli import main; main(['demo', '--dir', {str(LAB.parent)!r}])"
        subprocess.run([sys.executable, "-c", build], check=True)
    cli = [sys.executable, "-c", "from homelab_kit.cli import run; run()", "--lab", str(LAB)]
    script = Path(sys.executable).with_name("homelab-kit")
    if script.exists():
        cli = [str(script), "--lab", str(LAB)]
    m = medians(
        {
            "base": ["python3", "-c", "pass"],
            "venv": [sys.executable, "-c", "pass"],
            "inventory": [*cli, "inventory"],
            "lint": [*cli, "lint"],
        }
    )
    base = m["base"]
    worst = 0.0
    print(f"bare python3 -c pass: {base * 1000:.0f} ms (median of {REPEAT})")
    print(f"venv python -c pass:  {m['venv'] * 1000:.0f} ms (the CLI's own interpreter)")
    for command in ("inventory", "lint"):
        t = m[command]
        worst = max(worst, t / base)
        heavy = heavy_imports(["--lab", str(LAB), command])
        print(
            f"homelab-kit {command}: {t * 1000:.0f} ms = {t / base:.1f}x python3, {t / m['venv']:.1f}x venv python  heavy imports: {', '.join(heavy) or 'none'}"
        )
        if heavy:
            print(
                f"  FIX: `{command}` imports {', '.join(heavy)}; move those imports into the functions that need them"
            )
    print(f"worst ratio {worst:.1f}x (target <= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
