"""npcae.diagnostics.memory's estimate against the memory real training steps take, each in its own process.

    python -m benchmarks.calibrate_memory                    # the table in npcae/diagnostics/memory.py
    python -m benchmarks.calibrate_memory --cases 256x128:3:4,32,256 512x256:8:4,32,256

A child process loads the kernels on a tiny model first, then resets its peak RSS
(/proc/self/clear_refs) and notes its RSS; it builds the model and Adam, trains three steps on a
random batch (dice+focal, as `npcae train`), then runs the validation's inference pass (batch
3). Measured is the growth of the peak (VmHWM) over that RSS: what the check compares with
MemAvailable, which already excludes the process's interpreter and libraries; and the peak of
the bytes numpy allocated (tracemalloc), which the estimate models. Linux only.
"""
import argparse
import json
import subprocess
import sys

CASES = ("256x128:3:4,32,256", "512x256:3:4,32,256", "1024x512:3:4,32,256",
         "512x256:8:4,32,256", "1024x512:8:4,32,256", "512x256:1:4,32,256",
         "512x256:3:16,64,512", "512x256:3:8,8,8", "64x32:3:256,512,1024")

CHILD = r"""
import json, sys, tracemalloc
import numpy as np
from npcae import models
from npcae.diagnostics import memory
from npcae.kernels import workspace
from npcae.optim import Adam
from npcae.tasks import make_task

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))

def train(model, x, y, steps):
    task, opt = make_task({"task": "binary", "loss": "dice+focal"}), Adam(model.named_parameters())
    for _ in range(steps):
        out = model.forward(x, training=True)
        task.loss.forward(out, y)
        model.backward(task.loss.backward())
        opt.step()
    return opt

size, batch, filters = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
def batch_of(n):
    return (rng.random((n, *size, 3), dtype=np.float32),
            (rng.random((n, *size, 1)) > 0.8).astype(np.float32))
tiny = models.create("cae", input_size=(32, 16), filters=filters)
train(tiny, *batch_of(2), 2)
tiny.forward(batch_of(2)[0])
del tiny
workspace.release()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                                    # peak RSS := current RSS
base = status("VmRSS")
tracemalloc.start()                                 # numpy reports its arrays to it
x, y = batch_of(batch)
model = models.create("cae", input_size=size, filters=filters)
opt = train(model, x, y, 3)
model.forward(batch_of(3)[0])                       # the validation pass, eval_batch 3
grown = status("VmHWM") - base
traced = tracemalloc.get_traced_memory()[1]
sketch = memory.sketch("cae", {"filters": filters}, size)
est = memory.training_estimate(sketch, size, batch, eval_batch=3)
print("RESULT", json.dumps({"measured": grown, "traced": traced, "estimate": est.total,
                           "parts": vars(est)}))
"""


def run(case):
    size, batch, filters = case.split(":")
    size = [int(v) for v in size.split("x")]
    filters = [int(v) for v in filters.split(",")]
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps([size, int(batch), filters])],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"calibrate_memory: {case} failed:\n{done.stderr[-3000:]}")
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=CASES, help="HxW:batch:filters ...")
    cases = parser.parse_args().cases
    print("| size | batch | filters | estimate GB | RSS growth GB | numpy peak GB | "
          "estimate / RSS | estimate / numpy |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        size, batch, filters = case.split(":")
        result = run(case)
        estimate, rss, traced = result["estimate"], result["measured"], result["traced"]
        print(f"| {size} | {batch} | {filters} | {estimate / 1e9:.2f} | {rss / 1e9:.2f} | "
              f"{traced / 1e9:.2f} | {estimate / rss:.2f} | {estimate / traced:.2f} |", flush=True)
        print("    " + json.dumps({k: round(v / 1e9, 3) for k, v in result["parts"].items()}),
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
