"""The `npcae` command: train, predict, evaluate, fetch-data, bench, gradcheck.

Bad input ends with one line on stderr ("npcae: error: ...") and exit status 2; a diverged
training run with exit status 3. Nothing is left half-written: every file goes through a
temporary name.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from .checkpoint import CheckpointError, read_checkpoint
from .data import DEFAULT_TRAIN, DataError, load_dataset, split
from .models import WeightsMismatch

DEFAULT_SIZE = {"tiktok-136": (1024, 512), "synthetic": (256, 128)}
BENCHMARKS = ("kernels", "conv", "step")


class UsageError(ValueError):
    """A command-line value that cannot be used."""


def parse_size(text):
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like HxW, e.g. 256x128, got {text!r}")
    if height <= 0 or width <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return height, width


def parse_filters(text):
    try:
        filters = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"filters must look like 4,32,256, got {text!r}")
    if not filters or min(filters) < 1:
        raise argparse.ArgumentTypeError(f"filters must be positive integers, got {text!r}")
    return filters


def build_parser():
    parser = argparse.ArgumentParser(prog="npcae", description="A from-scratch NumPy CAE for masks.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train the CAE (the original experiment by default)")
    t.add_argument("--data", default="synthetic", help="synthetic (default), tiktok-136 or a folder")
    t.add_argument("--size", type=parse_size, help="HxW (tiktok-136: 1024x512; synthetic: 256x128)")
    t.add_argument("--epochs", type=int, default=500)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--filters", type=parse_filters, default=[4, 32, 256])
    t.add_argument("--loss", default="dice+focal", help="terms of dice, focal, binary_focal, bce, mse")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--val-every", type=int, default=10,
                   help="validate every N epochs (10; validating costs more than a training step)")
    t.add_argument("--checkpoint-every", type=int, default=50)
    t.add_argument("--grad-every", type=int, default=10,
                   help="record per-layer gradient norms every N epochs for gradient_flow.png "
                        "(10; 0: off)")
    t.add_argument("--trace", action="store_true",
                   help="trace the first step layer by layer: printed, and trace.txt/.json/.csv")
    t.add_argument("--augment", action="store_true", help="flips, shifts, zoom, brightness/contrast")
    t.add_argument("--train-names", help="comma-separated training frames (default per data set)")
    t.add_argument("--n-train", type=int, help="train on the first N frames instead")
    t.add_argument("--out", help="run folder (default runs/<data>-<time>)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("predict", help="masks, overlays and cut-outs for images or folders")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--weights", required=True, help="weights.npz, checkpoint.npz or a run folder")
    p.add_argument("--out", required=True, help="folder for the PNGs")

    e = sub.add_parser("evaluate", help="accuracy, IoU and Dice per image and in total")
    e.add_argument("--weights", required=True)
    e.add_argument("--data", default="synthetic")
    e.add_argument("--size", type=parse_size, help="default: the size the model was trained at")

    b = sub.add_parser("bench", help="run the benchmarks in the repository's benchmarks/ folder")
    b.add_argument("which", nargs="*", metavar="NAME", help="kernels, conv, step (default: all)")
    b.add_argument("--size", help="HxW for kernels and conv (default 1024x512)")
    b.add_argument("--compare-torch", metavar="PYTHON", help="a Python with torch, for bench_step")
    b.add_argument("--out", help="folder for JSON, Markdown and PNG (default benchmarks/results)")

    f = sub.add_parser("fetch-data", help="download a data set and verify its checksums")
    f.add_argument("name", choices=["tiktok-136"])
    f.add_argument("--dest", help="folder (default ~/.cache/npcae/tiktok-136)")

    g = sub.add_parser("gradcheck", help="finite-difference checks: every layer, loss, a small CAE")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--layer", metavar="NAME", help="only this layer's cases, e.g. conv2d")
    which.add_argument("--model", choices=["cae"], help="only the small CAE")
    g.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    g.add_argument("--tolerance", type=float, help="max relative error (default 1e-6; float32 1e-3)")
    return parser


def _check_size(size, filters):
    factor = 2 ** len(filters)
    if size[0] % factor or size[1] % factor:
        raise UsageError(f"size {size[0]}x{size[1]} is not divisible by {factor} "
                         f"(the CAE halves it {len(filters)} times)")


def _records(run):
    record = load_dataset(run["data"], tuple(run["size"]))
    if run.get("n_train"):
        return split(record, n_train=run["n_train"])
    names = run.get("train_names") or DEFAULT_TRAIN.get(run["data"])
    if names is None:
        raise UsageError("a folder needs --train-names or --n-train to choose its training frames")
    return split(record, train_names=names)


def cmd_train(args):
    from .plots import write_all
    from .predict import ensure_writable
    from .training import Trainer
    if args.resume:
        state = read_checkpoint(Path(args.resume) / "checkpoint.npz")
        run = state["run"]
        if args.epochs != 500 or run["epochs"] < args.epochs:
            run["epochs"] = args.epochs                  # extend (or set) the target
        out = Path(args.resume)
    else:
        size = args.size or DEFAULT_SIZE.get(args.data, (1024, 512))
        _check_size(size, args.filters)
        if args.epochs < 1 or args.val_every < 1 or args.checkpoint_every < 1:
            raise UsageError("--epochs, --val-every and --checkpoint-every must be at least 1")
        if args.grad_every < 0:
            raise UsageError(f"--grad-every must be 0 (off) or more, got {args.grad_every}")
        run = dict(data=args.data, size=list(size), epochs=args.epochs, lr=args.lr,
                   filters=args.filters, loss=args.loss, seed=args.seed, val_every=args.val_every,
                   checkpoint_every=args.checkpoint_every, grad_every=args.grad_every,
                   augment=args.augment,
                   train_names=args.train_names.split(",") if args.train_names else None,
                   n_train=args.n_train)
        out = Path(args.out or f"runs/{Path(args.data).name}-{time.strftime('%Y%m%d-%H%M%S')}")
        state = None
    ensure_writable(out)
    train, heldout = _records(run)
    trainer = Trainer(run, train, heldout, out, progress=not args.no_progress)
    trainer.model.config["input_size"] = list(run["size"])
    if state is not None:
        trainer.resume(state)
    print(f"training on {len(train)} frames ({', '.join(train.names)}), {len(heldout)} held out, "
          f"{run['size'][0]}x{run['size'][1]}, into {out}", file=sys.stderr)
    trainer.fit(trace=args.trace)
    write_all(trainer, [train, heldout])
    report = trainer.final_report()
    for group in ("train_eval", "heldout", "all"):
        print(f"{group:>10}: accuracy {report[f'{group}_accuracy']:.4f}  "
              f"IoU {report[f'{group}_iou']:.4f}  Dice {report[f'{group}_dice']:.4f}")
    return 0


def cmd_predict(args):
    from .predict import ensure_writable, list_images, load_model, predict_files
    model, size = load_model(args.weights)
    files = list_images(args.inputs)
    out = ensure_writable(args.out)
    names = predict_files(model, size, files, out)
    print(f"wrote mask, overlay and cut-out PNGs for {len(names)} images to {out}")
    return 0


def cmd_evaluate(args):
    from .predict import evaluate_record, load_model
    model, size = load_model(args.weights)
    record = load_dataset(args.data, args.size or size)
    rows, (acc, iou, dice) = evaluate_record(model, record)
    print(f"{'image':<24}{'accuracy':>10}{'IoU':>10}{'Dice':>10}")
    for name, a, i, d in rows:
        print(f"{name:<24}{a:>10.4f}{i:>10.4f}{d:>10.4f}")
    print(f"{'total':<24}{acc:>10.4f}{iou:>10.4f}{dice:>10.4f}")
    return 0


def cmd_fetch(args):
    from .data import fetch_tiktok136
    print(fetch_tiktok136(args.dest))
    return 0


def cmd_bench(args):
    import subprocess
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if not (folder / "bench_step.py").exists():
        raise UsageError(f"no benchmarks/ folder beside the package ({folder}); "
                         "run npcae bench from a source checkout (pip install -e .)")
    unknown = [name for name in args.which if name not in BENCHMARKS]
    if unknown:
        raise UsageError(f"no benchmark called {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    for name in args.which or BENCHMARKS:
        command = [sys.executable, str(folder / f"bench_{name}.py")]
        if args.size and name != "step":
            command += ["--size", args.size]
        if args.compare_torch and name == "step":
            command += ["--compare-torch", args.compare_torch]
        if args.out:
            command += ["--out", args.out]
        print(f"== {' '.join(command[1:])}", flush=True)
        if subprocess.run(command).returncode != 0:
            raise UsageError(f"bench_{name}.py failed (its message is above)")
    return 0


def cmd_gradcheck(args):
    from . import gradcheck_suite
    if args.tolerance is not None and not args.tolerance > 0:
        raise UsageError(f"--tolerance must be positive, got {args.tolerance}")
    try:
        cases = gradcheck_suite.select(layer=args.layer, model=args.model)
    except gradcheck_suite.UnknownCase as error:
        raise UsageError(error)
    return gradcheck_suite.run(cases, args.dtype, args.tolerance)


COMMANDS = {"train": cmd_train, "predict": cmd_predict, "evaluate": cmd_evaluate,
            "fetch-data": cmd_fetch, "bench": cmd_bench, "gradcheck": cmd_gradcheck}


def main(argv=None):
    from .training import TrainingDiverged
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (DataError, UsageError, WeightsMismatch, CheckpointError) as error:
        print(f"npcae: error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"npcae: error: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
