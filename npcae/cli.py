"""The `npcae` command: train, predict, evaluate, inspect, fetch-data, bench, gradcheck.

Bad input ends with one line on stderr ("npcae: error: ...") and exit status 2; a diverged
training run with exit status 3; a fault of the disk (full, read-only) with exit status 4.
Nothing is left half-written: every file goes through a temporary name.
"""
import argparse
import sys
import time
from pathlib import Path

from .errors import InputError, NpcaeError
from .train.callbacks import SCHEDULES
from .train.callbacks import Checkpoint
from .train.checkpoint import CHECKPOINT, CheckpointError, read_checkpoint, restore_trainer
from .data import DATASETS, DataError
from .train.experiment import DEFAULTS, assemble, settings
from .train.report import finish
from .diagnostics.memory import check_inference
from .system.runlock import RunLock
from .train.task_settings import TaskSettingsError, evaluation_options
from .train.trainer import TrainingDiverged
from .system.files import ensure_writable

BENCHMARKS = ("kernels", "conv", "step", "unet", "memory")
DEFAULT_BENCHMARKS = ("kernels", "conv", "step", "unet")   # memory trains for ~15 min: by name
LABELS = {"iou": "IoU", "dice": "Dice", "psnr": "PSNR", "mse": "MSE"}     # metric names, printed


class UsageError(InputError):
    """A command-line value that cannot be used."""


class DiskFault(NpcaeError):
    """An OSError of a training run, with where the run stands."""
    exit_status = 4


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


def parse_weights(text):
    if text == "auto":
        return text
    try:
        weights = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"class weights must be auto or numbers like 1,0.5,2, got {text!r}")
    if min(weights) < 0:
        raise argparse.ArgumentTypeError(f"class weights must not be negative, got {text!r}")
    return weights


class Parser(argparse.ArgumentParser):
    """argparse with its errors in the one-line form of every other error (not the usage block)."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser():
    parser = Parser(prog="npcae", description="A from-scratch NumPy CAE for masks.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model (the original CAE experiment by default)",
                       description="Options left out take the defaults below (npcae.train.defaults."
                                   "DEFAULTS; a --model may change some: MODEL_DEFAULTS, e.g. the "
                                   "U-Net trains on synthetic-people in batches of 8); with "
                                   "--resume, only the options given change the run.")
    d = DEFAULTS
    t.add_argument("--data", help=f"a data set name ({', '.join(DATASETS)}) or a folder with "
                                  f"images/ and masks/ (default {d['data']})")
    t.add_argument("--size", type=parse_size, help="HxW (default: the data set's, e.g. "
                                                   "tiktok-136 1024x512, synthetic 256x128)")
    t.add_argument("--model", help=f"a registered model (default {d['model']})")
    t.add_argument("--filters", type=parse_filters, help="the model's filters per level (cae: 4,32,256)")
    t.add_argument("--epochs", type=int, help=f"train until this many epochs (default {d['epochs']})")
    t.add_argument("--batch-size", type=int,
                   help="frames per step (default: every training frame in one batch, as the original)")
    t.add_argument("--lr", type=float, help=f"Adam's learning rate (default {d['lr']:g})")
    t.add_argument("--lr-schedule", choices=SCHEDULES,
                   help=f"constant, or cosine: decay to 1%% of --lr over the epochs (default {d['lr_schedule']})")
    t.add_argument("--loss", help="terms of dice, focal, binary_focal, bce, mse for masks (default "
                                  "dice+focal); of ce, dice for class ids (default ce; "
                                  "cityscapes-pix2pix ce+dice)")
    t.add_argument("--classes", type=int, help="class ids: 19 (Cityscapes' classes, the default of "
                                               "multi-class data), 7 (its categories), or the "
                                               "--palette file's count")
    t.add_argument("--palette", metavar="FILE", help="the label colours of multi-class data: one "
                                                     "'name, R, G, B' line per class, 'void, R, G, B' "
                                                     "for colours to ignore (default Cityscapes')")
    t.add_argument("--class-weights", type=parse_weights, metavar="auto|W1,W2,...",
                   help="weigh the cross-entropy of each class: auto (median-frequency balancing "
                        "from the training masks) or one number per class (default: all 1)")
    t.add_argument("--seed", type=int, help=f"weights, dropout, shuffling, augmentation (default {d['seed']})")
    t.add_argument("--val-every", type=int,
                   help=f"validate every N epochs (default {d['val_every']}; validating costs more than a step)")
    t.add_argument("--checkpoint-every", type=int,
                   help=f"write checkpoint.npz every N epochs (default {d['checkpoint_every']}; "
                        "0: only at the end and on Ctrl-C)")
    t.add_argument("--grad-every", type=int,
                   help=f"record per-layer gradient norms every N epochs for gradient_flow.png "
                        f"(default {d['grad_every']}; 0: off)")
    t.add_argument("--trace", action="store_true",
                   help="trace the first step layer by layer: printed, and trace.txt/.json/.csv")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="flips, shifts, zoom, brightness/contrast (default: off for the CAE, "
                        "on for the U-Net)")
    t.add_argument("--train-names", help="comma-separated training frames; the rest are held out")
    t.add_argument("--n-train", type=int, help="train on the first N frames, hold out the rest")
    t.add_argument("--val-split", type=float, help="hold out this fraction, chosen by the seed "
                                                   "(default for folders: 0.1)")
    t.add_argument("--val-data", help="hold out every frame of this data set or folder")
    t.add_argument("--cache-mb", type=int, help=f"keep the decoded frames in memory when they fit "
                                                f"in this many MB (default {d['cache_mb']})")
    t.add_argument("--out", help="run folder (default runs/<data>-<time>)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("predict", help="masks, cut-outs, overlays (and new backgrounds) for photos",
                       description="For every photo, at its own size: NAME_mask.png (0/255), "
                                   "NAME_cutout.png (RGBA, the soft mask as alpha), "
                                   "NAME_overlay.png, and with --background NAME_composite.png. "
                                   "The model runs at the size it was trained at and its mask "
                                   "is resized back (--at own: a U-Net at each photo's size).")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--weights", required=True, help="weights.npz, checkpoint.npz or a run folder")
    p.add_argument("--out", required=True, help="folder for the PNGs")
    p.add_argument("--at", choices=("trained", "own"), default="trained",
                   help="run the model at its trained size, as it saw its training frames "
                        "(default), or at each photo's own size (a model that takes any size, "
                        "trained on frames at their own scale)")
    p.add_argument("--background", metavar="COLOUR|IMAGE",
                   help="also write NAME_composite.png: the person over this colour (white, "
                        "#00ff00, R,G,B) or image (scaled to cover the photo, centre cropped), "
                        "through the soft mask")

    e = sub.add_parser("evaluate", help="the task's metrics (masks: accuracy, IoU, Dice per image "
                                        "and in total; classes: a per-class table and the mIoU)")
    e.add_argument("--weights", required=True)
    e.add_argument("--data", help="a data set name or a folder (default synthetic; for a "
                                  "multi-class model synthetic-streets); a set with a held-out "
                                  "part (cityscapes-pix2pix: val/) is evaluated on it")
    e.add_argument("--palette", metavar="FILE", help="the label colours of the data, for a "
                                                     "multi-class model (default: the model's)")
    e.add_argument("--size", type=parse_size, help="default: the size the model was trained at")

    b = sub.add_parser("bench", help="run the benchmarks in the repository's benchmarks/ folder")
    b.add_argument("which", nargs="*", metavar="NAME", help="kernels, conv, step, unet, memory (default: all but memory)")
    b.add_argument("--size", help="HxW for kernels and conv (default 1024x512)")
    b.add_argument("--compare-torch", metavar="PYTHON", help="a Python with torch, for bench_step")
    b.add_argument("--out", help="folder for JSON, Markdown and PNG (default benchmarks/results)")

    i = sub.add_parser("inspect", help="what a data set holds and what is wrong with it, before "
                                       "training (exit status 1 when it finds problems)")
    i.add_argument("data", help="a data set name or a folder (images/ and masks/, or composites)")
    i.add_argument("--classes", type=int, help="the masks hold class ids (default: the data set's "
                                               "kind; composites 19)")
    i.add_argument("--palette", metavar="FILE", help="the label colours (default Cityscapes')")

    f = sub.add_parser("fetch-data", help="download a data set and verify its checksums")
    f.add_argument("name", choices=[name for name, entry in DATASETS.items() if entry.download])
    f.add_argument("--dest", help="folder (default $NPCAE_DATA/<name>, else ~/.cache/npcae/<name>)")

    g = sub.add_parser("gradcheck", help="finite-difference checks: every layer, loss, a small CAE")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--layer", metavar="NAME", help="only this layer's cases, e.g. conv2d")
    which.add_argument("--model", choices=["cae", "unet"], help="only a small CAE or U-Net")
    g.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    g.add_argument("--tolerance", type=float, help="max relative error (default 1e-6; float32 1e-3)")
    return parser


# Options of `npcae train` that are run settings, and how each becomes one.
RUN_OPTIONS = {"data": None, "size": list, "model": None, "epochs": None, "batch_size": None,
               "lr": None, "lr_schedule": None, "loss": None, "seed": None, "val_every": None,
               "checkpoint_every": None, "grad_every": None, "augment": None,
               "train_names": lambda text: text.split(","), "n_train": None, "val_split": None,
               "val_data": None, "cache_mb": None, "classes": None, "palette": None,
               "class_weights": None}
# What may change when a run is resumed: the target, how often things happen, and where the
# data lives (a moved folder: restore() checks that its frames are the run's, by name).
# Everything else would make the resumed run a different run.
RESUMABLE = ("epochs", "val_every", "checkpoint_every", "grad_every", "cache_mb", "data", "val_data")


def option(key):
    """The command-line spelling of a run setting: grad_every -> --grad-every."""
    return "--" + key.replace("_", "-")


def given_settings(args):
    """The run settings the command line gave explicitly (options left out are not included)."""
    given = {}
    for key, convert in RUN_OPTIONS.items():
        value = getattr(args, key)
        if value is not None:
            given[key] = convert(value) if convert else value
    if args.filters is not None:
        given["model_args"] = {"filters": args.filters}
    for key in ("data", "val_data"):         # a folder is stored whole, to resume from anywhere
        if key in given and given[key] not in DATASETS and Path(given[key]).expanduser().is_dir():
            given[key] = str(Path(given[key]).expanduser().resolve())
    if "palette" in given and Path(given["palette"]).expanduser().is_file():
        given["palette"] = str(Path(given["palette"]).expanduser().resolve())
    return given


def resumed_settings(args, given):
    """(run settings, state) of the checkpoint in --resume, with the options given applied."""
    out = Path(args.resume)
    state = read_checkpoint(out / "checkpoint.npz")
    if not state["run"]:
        raise CheckpointError(f"{out / 'checkpoint.npz'} was written by a Trainer outside npcae "
                              "train (no run settings in it); resume it in Python with restore()")
    if args.out is not None and Path(args.out).resolve() != out.resolve():
        raise UsageError(f"--out {args.out} differs from --resume {args.resume}: a resumed run "
                         "stays in its folder")
    stored = settings(state["run"], name=option)
    if given.get("class_weights") == "auto" and isinstance(stored["class_weights"], list):
        del given["class_weights"]                  # "auto" is what the stored weights came from
    changed = sorted(key for key, value in given.items()
                     if key not in RESUMABLE and settings({**state["run"], key: value})[key] != stored[key])
    if changed:
        raise UsageError(f"{option(changed[0])} cannot change when a run is resumed "
                         f"(only {', '.join(map(option, RESUMABLE))} can)")
    done = state["epoch"] + (1 if state["trainer"]["batch"] else 0)
    if given.get("epochs", stored["epochs"]) < done:
        raise UsageError(f"--epochs {given['epochs']} is fewer than the {done} epochs this run "
                         "has already started")
    return {**state["run"], **given}, state


def cmd_train(args):
    given = given_settings(args)
    if args.resume:
        run, state = resumed_settings(args, given)
        out = Path(args.resume)
        for key in ("data", "val_data"):
            if run.get(key) and run[key] not in DATASETS and not Path(run[key]).is_dir():
                raise UsageError(f"the run's {option(key)} folder {run[key]} is gone; if it "
                                 f"moved, give its new place: --resume {out} {option(key)} NEW_PLACE")
    else:
        run, state = given, None
        data = Path(settings(run, name=option)["data"]).name
        out = Path(args.out or f"runs/{data}-{time.strftime('%Y%m%d-%H%M%S')}")
        if (out / CHECKPOINT).exists():
            raise UsageError(f"{out} already holds a run; continue it with --resume {out}, or "
                             "choose another --out")
    exp = assemble(settings(run, name=option), out, progress=not args.no_progress,
                   trace=args.trace, log=lambda text: print(text, file=sys.stderr))
    if state is not None:
        restore_trainer(state, exp.trainer)
    ensure_writable(out)
    with RunLock(out):
        if state is None and (out / CHECKPOINT).exists():    # another run got there first
            raise UsageError(f"{out} already holds a run; continue it with --resume {out}")
        return train_in(out, exp)


def train_in(out, exp):
    """Train an assembled run in its (locked) folder, then write its figures and report."""
    for note in exp.notes:
        print(note, file=sys.stderr)
    train, heldout, size = exp.train, exp.heldout, exp.train.size
    shown = ", ".join(train.names[:5]) + (", ..." if len(train) > 5 else "")
    print(f"training on {len(train)} frames ({shown}), {len(heldout)} held out, "
          f"{size[0]}x{size[1]}, batch {exp.trainer.loader.batch_size}, into {out}", file=sys.stderr)
    last_good = lambda: exp.trainer.callback(Checkpoint).last_good()
    try:
        exp.trainer.fit()
    except TrainingDiverged as error:
        raise TrainingDiverged(f"{error}; stopped. {last_good()}") from None
    except OSError as error:
        raise DiskFault(f"{describe(error)}. {last_good()} Free some space (or fix the "
                        f"folder), then: npcae train --resume {out}") from None
    except DataError as error:               # a file found broken when its batch came
        raise DataError(f"{error}. {last_good()} Fix or replace the file, then: "
                        f"npcae train --resume {out}") from None
    report = finish(exp)
    for group in ("train_eval", "heldout", "all") if report else ():
        names = [name for name in exp.trainer.task.headline if f"{group}_{name}" in report]
        if names:
            print(f"{group:>10}: " + "  ".join(f"{LABELS.get(name, name)} {report[f'{group}_{name}']:.4f}"
                                               for name in names))
    return 0


def cmd_predict(args):
    from .predict.core import list_images, load_model, parse_background, predict_files
    background = None if args.background is None else parse_background(args.background)
    model, size, task = load_model(args.weights)
    files = list_images(args.inputs)
    names = predict_files(model, size, files, args.out, task, background=background, at=args.at)
    print(f"wrote the {task.name} task's PNGs for {len(names)} images to {Path(args.out).expanduser()}")
    return 0


def cmd_evaluate(args):
    from .data import open_frames
    from .train.evaluation import evaluate
    from .predict.core import load_model
    model, size, task = load_model(args.weights)
    size = args.size or size
    data = args.data or ("synthetic-streets" if task.name == "multiclass" else DEFAULTS["data"])
    try:
        options = evaluation_options(task, data, args.palette, args.weights)
    except TaskSettingsError as error:
        raise UsageError(str(error)) from None
    try:
        model.output_shape((1, *size, 3))
    except ValueError as error:
        raise UsageError(f"size {size[0]}x{size[1]} does not fit the model: {error}") from None
    check_inference(model, size, batch_size=DEFAULTS["eval_batch"])
    entry = DATASETS.get(data)
    part = 1 if entry is not None and entry.parts else None          # a publisher's held-out part
    frames = open_frames(data, size, part=part, **options)
    _, total, per_image = evaluate(model, task, frames, per_image=True)
    if hasattr(task, "table"):
        print("\n".join(task.table(total, per_image)))
        return 0
    names = list(total.result())
    print(f"{'image':<24}" + "".join(f"{LABELS.get(name, name):>10}" for name in names))
    for image, values in per_image.items():
        print(f"{image:<24}" + "".join(f"{values[name]:>10.4f}" for name in names))
    print(f"{'total':<24}" + "".join(f"{total.result()[name]:>10.4f}" for name in names))
    return 0


def cmd_inspect(args):
    from .data.inspection import inspect_data
    from .data.palette import palette_file
    palette = None
    if args.palette:
        try:
            palette = palette_file(args.palette)
        except ValueError as error:
            raise UsageError(str(error)) from None
    report = inspect_data(args.data, classes=args.classes, palette=palette)
    print("\n".join(report.lines()))
    return 1 if report.problems else 0


def cmd_fetch(args):
    from .data import fetch
    print(fetch(args.name, args.dest))
    return 0


def cmd_bench(args):
    import subprocess

    from .system.blas_threads import environment_as_given
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if not (folder / "bench_step.py").exists():
        raise UsageError(f"no benchmarks/ folder beside the package ({folder}); "
                         "run npcae bench from a source checkout (pip install -e .)")
    unknown = [name for name in args.which if name not in BENCHMARKS]
    if unknown:
        raise UsageError(f"no benchmark called {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    for name in args.which or DEFAULT_BENCHMARKS:
        command = [sys.executable, str(folder / f"bench_{name}.py")]
        if args.size and name in ("kernels", "conv"):
            command += ["--size", args.size]
        if args.compare_torch and name in ("step", "unet"):
            command += ["--compare-torch", args.compare_torch]
        if args.out:
            command += ["--out", args.out]
        print(f"== {' '.join(command[1:])}", flush=True)
        if subprocess.run(command, env=environment_as_given()).returncode != 0:
            raise UsageError(f"bench_{name}.py failed (its message is above)")
    return 0


def cmd_gradcheck(args):
    from .gradcheck import suite as gradcheck_suite
    if args.tolerance is not None and not args.tolerance > 0:
        raise UsageError(f"--tolerance must be positive, got {args.tolerance}")
    try:
        cases = gradcheck_suite.select(layer=args.layer, model=args.model)
    except gradcheck_suite.UnknownCase as error:
        raise UsageError(error)
    return gradcheck_suite.run(cases, args.dtype, args.tolerance)


COMMANDS = {"train": cmd_train, "predict": cmd_predict, "evaluate": cmd_evaluate,
            "fetch-data": cmd_fetch, "inspect": cmd_inspect, "bench": cmd_bench, "gradcheck": cmd_gradcheck}


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except NpcaeError as error:             # bad input 2, a diverged run 3, the disk 4
        print(f"npcae: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:               # a second Ctrl-C, or one after training ended
        print("npcae: error: interrupted; a stopped run resumes from its last checkpoint "
              "with --resume", file=sys.stderr)
        return 130
    except OSError as error:                # the disk, not the input: full, read-only, gone
        print(f"npcae: error: {describe(error)}; nothing half-written was left", file=sys.stderr)
        return 4


def describe(error):
    """An OSError in a few words, with the file it concerns."""
    where = f" {error.filename}" if error.filename else ""
    return f"cannot write or read{where}: {error.strerror or error}"


if __name__ == "__main__":
    sys.exit(main())
