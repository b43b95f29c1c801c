"""What every benchmark shares: timing, the matmul roofline, the machine, and the outputs.

Each benchmark writes RESULTS/<name>.json (every number, with the machine and the command),
RESULTS/<name>.md (the table) and RESULTS/<name>.png (bars against the roofline).
Speed is reported as ratios measured in the same run, never as bare seconds alone: this
machine is shared and noisy, and a ratio survives a slow minute much better than a time.
"""
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import npcae  # noqa: F401  (before numpy: it sets OpenBLAS's thread timeout)
import numpy as np
from npcae.system.blas_threads import environment_as_given

PEER_ENV = environment_as_given()   # for every worker: npcae's set their own on import

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent                  # workers run as `python -m benchmarks.<name>` from here
RESULTS = HERE / "results"


def best_time(fn, repeat=3, min_time=0.0):
    """The fastest of `repeat` calls (after one warm-up): the least disturbed measurement."""
    fn()
    times = []
    while len(times) < repeat or sum(times) < min_time:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def alternating_best(fns, repeat=3):
    """The best time of each function, calling them in turn `repeat` times (after one warm-up
    each): a slow spell of a shared machine then falls on all of them alike, so the ratios
    between them hold even when the absolute times wander."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def matmul_fn(m, k, n, dtype=np.float32):
    """numpy's (m, k) @ (k, n) into a preallocated output, as a function to time: the roofline."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=dtype)
    b = rng.standard_normal((k, n), dtype=dtype)
    out = np.empty((m, n), dtype)
    return lambda: np.matmul(a, b, out=out)


def matmul_seconds(m, k, n, repeat=3, dtype=np.float32):
    """Best time of numpy's (m, k) @ (k, n) into a preallocated output: the roofline."""
    return best_time(matmul_fn(m, k, n, dtype), repeat)


def gflops(flop, seconds):
    return flop / seconds / 1e9


def peak_rss_gb():
    """Peak resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def machine():
    import numba
    info = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "cpus": os.cpu_count(), "machine": platform.machine(),
            "numba_threads": numba.config.NUMBA_NUM_THREADS,
            "date": time.strftime("%Y-%m-%d %H:%M")}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return info


def markdown_table(columns, rows):
    """columns: [(key, header, format)], rows: list of dicts -> a GitHub Markdown table."""
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        cells = [("" if row.get(k) is None else fmt.format(row[k])) for k, _, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def atomic_write_text(path, text):
    tmp = Path(f"{path}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_results(name, rows, table, out_dir=RESULTS, extra=None):
    """Write <name>.json and <name>.md into out_dir; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": name, "command": command_line(),
              "machine": machine(), "rows": rows, **(extra or {})}
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    atomic_write_text(json_path, json.dumps(record, indent=2) + "\n")
    header = f"# {name}\n\n{record['machine']['date']}, `{record['command']}`, " \
             f"{record['machine'].get('cpu', record['machine']['machine'])}, " \
             f"{record['machine']['cpus']} CPUs\n\n"
    atomic_write_text(md_path, header + table + "\n")
    return json_path, md_path


def command_line():
    """How this process was started, as it would be typed again from the repository's root:
    `python -m benchmarks.bench_step --sizes ...` (the script's name alone if not run as a module)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    start = f"python -m {spec.name}" if spec else Path(sys.argv[0]).name
    return " ".join([start, *sys.argv[1:]])


def bar_plot(path, labels, series, ylabel, title, reference=None):
    """Grouped bars: series = {legend: values}; an optional horizontal reference line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(labels) + 2), 4.2))
    width = 0.8 / len(series)
    x = np.arange(len(labels))
    for i, (legend, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=legend)
    if reference is not None:
        ax.axhline(reference[1], color="k", linestyle="--", linewidth=1, label=reference[0])
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    tmp = f"{path}.tmp-{os.getpid()}.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def run_json(name, command):
    """Run a worker process in the environment this one was given (npcae's workers set their own
    on import), from the repository's root so that `python -m benchmarks.<worker>` finds this
    package whatever the caller's folder; its last stdout line is JSON. A failure ends the
    benchmark `name` with the worker's last stderr line."""
    import json
    import subprocess
    done = subprocess.run(command, capture_output=True, text=True, env=PEER_ENV, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{name}: {' '.join(command[:3])} failed: "
                         f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])

