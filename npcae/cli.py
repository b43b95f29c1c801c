"""The `npcae` command: train, predict, evaluate, inspect, fetch-data, bench, gradcheck.

Bad input ends with one line on stderr ("npcae: error: ...") and exit status 2; a diverged
training run with exit status 3; a fault of the disk (full, read-only) with exit status 4.
Nothing is left half-written: every file goes through a temporary name.
"""
import argparse
import math
import os
import sys
import time
from pathlib import Path

from .data import DATASETS, DataError
from .data.coco import coco_path
from .data.union import source_labels
from .errors import InputError, NpcaeError
from .gradcheck import suite as gradcheck_suite
from .models.tta import TTA
from .system.files import ensure_writable
from .system.runlock import RunLock
from .train import TrainingDiverged, assemble, finish, resume, settings
from .train.run_settings import amounts_over_recipe
from .train.callbacks import Checkpoint, StopOnInterrupt
from .train.checkpoint import CHECKPOINT
from .train.options import add_arguments, data_specs, given_settings, parse_size, spelling

BENCHMARKS = ("kernels", "conv", "step", "unet", "memory")
DEFAULT_BENCHMARKS = ("kernels", "conv", "step", "unet")   # memory trains for ~15 min: by name
LABELS = {"iou": "IoU", "dice": "Dice", "psnr": "PSNR", "mse": "MSE"}     # metric names, printed


class UsageError(InputError):
    """A command-line value that cannot be used."""


class DiskFault(NpcaeError):
    """An OSError of a training run, with where the run stands."""
    exit_status = 4


class Parser(argparse.ArgumentParser):
    """argparse with its errors in the one-line form of every other error (not the usage block)."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser():
    parser = Parser(prog="npcae", description="From-scratch NumPy networks that learn segmentation masks: the original CAE, U-Nets for people and street scenes.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model (the original CAE experiment by default)",
                       description="Options left out take the defaults below "
                                   "(npcae.train.options; a --model or --data may change some, "
                                   "e.g. the U-Net trains on synthetic-people in batches of 8); "
                                   "with --resume, only the options given change the run.")
    add_arguments(t)
    t.add_argument("--trace", action="store_true",
                   help="trace the first step layer by layer: printed, and trace.txt/.json/.csv")
    t.add_argument("--out", help="run folder (default runs/<data>-<time>)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("predict", help="masks, cut-outs, overlays (and new backgrounds) for photos "
                                       "or a video",
                       description="For every photo, at its own size: NAME_mask.png (0/255), "
                                   "NAME_cutout.png (RGBA, the soft mask as alpha), "
                                   "NAME_overlay.png, and with --background NAME_composite.png. "
                                   "The model runs at the size it was trained at and its mask "
                                   "is resized back (--at own: a U-Net at each photo's size). "
                                   "With --video IN: frame by frame into a video (--out X.mp4, "
                                   "the person over --background, white by default), an "
                                   "animated image (X.gif/.webp/.apng, transparent without "
                                   "--background) or a folder of PNGs per frame; it prints the "
                                   "frames per second and how stable the masks are over time.")
    p.add_argument("inputs", nargs="*", metavar="IMAGE_OR_DIR")
    p.add_argument("--weights", required=True,
                   help="weights.npz, checkpoint.npz or a run folder (the newer of its two)")
    p.add_argument("--out", required=True, help="folder for the PNGs (--video: also a .mp4, .mov, "
                                                ".webm, .gif, .webp or .apng file)")
    p.add_argument("--video", metavar="IN", help="a folder of frames, an MP4/WebM/MOV file (needs "
                                                 'pip install -e ".[video]"), an animated '
                                                 "GIF/WebP/APNG, read frame by frame, or a camera: "
                                                 "camera:0 (ffmpeg's device input; stop it with "
                                                 "Ctrl-C or --frames N)")
    p.add_argument("--show", action="store_true", help="--video: a live window of the cut-out "
                                                       "and the frames per second (needs a display)")
    p.add_argument("--truth", metavar="MASK_DIR", help="--video: ground-truth masks, one per frame "
                                                       "in sorted order; prints the mean IoU and "
                                                       "dtSSD (x100)")
    p.add_argument("--smooth", type=float, metavar="S", help="--video: average the probabilities "
                                                             "over time, p' = S p + (1 - S) p'_prev "
                                                             "(S in (0, 1], 1: none)")
    p.add_argument("--frames", type=int, metavar="N", help="--video: only the first N frames")
    p.add_argument("--fps", type=float, help="--video: frame rate of the output (default the "
                                             "input's, else 25)")
    p.add_argument("--at", choices=("trained", "own"), default="trained",
                   help="run the model at its trained size, as it saw its training frames "
                        "(default), or at each photo's own size (a model that takes any size, "
                        "trained on frames at their own scale)")
    p.add_argument("--tta", choices=TTA, help="test-time augmentation: flip averages each output "
                                              "with its mirror image's (twice the time)")
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
    e.add_argument("--category", help="the category of COCO data (coco:FILE.json), e.g. person")
    e.add_argument("--tta", choices=TTA, help="test-time augmentation: flip averages each output "
                                              "with its mirror image's")
    e.add_argument("--resolution", choices=("model", "own"), default="model",
                   help="score at the model's size (default) or at each photo's own: the output "
                        "resized back to the photo, as npcae predict writes it, against the mask "
                        "as its source holds it")
    e.add_argument("--held-out", action="store_true",
                   help="only the frames the data set's fixed split holds out (human-seg-290's "
                        "40, tiktok-136's 7)")
    e.add_argument("--crowd", choices=("foreground", "ignore"), help="COCO data: crowd regions "
                   "count as the category (foreground, the default, as training sees them) or are "
                   "left out of the score (ignore, as COCO's evaluation does)")

    b = sub.add_parser("bench", help="run the benchmarks in the repository's benchmarks/ folder")
    b.add_argument("which", nargs="*", metavar="NAME", help="kernels, conv, step, unet, memory (default: all but memory)")
    b.add_argument("--size", help="HxW for kernels and conv (default 1024x512)")
    b.add_argument("--compare-torch", metavar="PYTHON", help="a Python with torch, for bench_step")
    b.add_argument("--out", help="folder for JSON, Markdown and PNG (default benchmarks/results)")
    b.add_argument("--algo", help="conv: the kernel lab (benchmarks/bench_lab.py), every convolution "
                                  "of --model by each of these algorithms: im2col,winograd2,winograd4,direct")
    b.add_argument("--model", help="conv --algo: cae, unet or mobilenet_unet (default cae)")

    i = sub.add_parser("inspect", help="what a data set holds and what is wrong with it, before "
                                       "training (exit status 1 when it finds problems)")
    i.add_argument("data", help="a data set name, a folder (images/ and masks/, or composites), or "
                                "coco:FILE.json (images, instances per category, crowds, coverage)")
    i.add_argument("--category", help="coco: decode this category's masks for exact figures")
    i.add_argument("--classes", type=int, help="the masks hold class ids (default: the data set's "
                                               "kind; composites 19)")
    i.add_argument("--palette", metavar="FILE", help="the label colours (default Cityscapes')")
    i.add_argument("--no-progress", action="store_true", help="no progress bar")

    f = sub.add_parser("fetch-data", help="download a data set and verify its checksums",
                       description="Download a data set and verify every file against its SHA-256; "
                                   "files already there are hashed and kept if they match.",
                       epilog="Mirrors: NPCAE_TIKTOK_URL, NPCAE_HUMAN_SEG_URL and NPCAE_CITYSCAPES_URL "
                              "replace the pinned source of tiktok-136, human-seg-290 and "
                              "cityscapes-pix2pix by a base URL laid out like it (BASE/data/val_image/"
                              "NAME.png; BASE/Training_Images/N.jpg; BASE/train/N.jpg); every file is "
                              "still checked against its SHA-256.")
    f.add_argument("name", choices=[name for name, entry in DATASETS.items() if entry.download])
    f.add_argument("--dest", help="folder (default $NPCAE_DATA/<name>, else $NPCAE_CACHE/<name>, "
                                  "~/.cache/npcae/<name> when neither is set)")

    g = sub.add_parser("gradcheck", help="finite-difference checks: every layer, loss, a small CAE")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--layer", metavar="NAME", help="only this layer's cases, e.g. conv2d")
    which.add_argument("--model", choices=gradcheck_suite.model_names(),
                       help="only the checks of one model, built small")
    g.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    g.add_argument("--tolerance", type=float, help="max relative error (default 1e-6; float32 1e-3)")
    return parser


def cmd_train(args):
    given = given_settings(args)
    parts = dict(progress=not args.no_progress, trace=args.trace,
                 log=lambda text: print(text, file=sys.stderr))
    if args.resume:
        out = Path(args.resume)
        if args.out is not None and Path(args.out).resolve() != out.resolve():
            raise UsageError(f"--out {args.out} differs from --resume {args.resume}: a resumed "
                             "run stays in its folder")
        exp = resume(out, name=spelling, **parts, **given)
    else:
        run = settings(amounts_over_recipe(given), name=spelling)
        label = "+".join(source_labels(data_specs(run["data"])))
        out = Path(args.out or f"runs/{label}-{time.strftime('%Y%m%d-%H%M%S')}")
        if (out / CHECKPOINT).exists():
            raise UsageError(f"{out} already holds a run; continue it with --resume {out}, or "
                             "choose another --out")
        exp = assemble(run, out, **parts)
    ensure_writable(out)
    with RunLock(out):
        if not args.resume and (out / CHECKPOINT).exists():    # another run got there first
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
    # Stopped by SIGTERM (a scheduler, `timeout`): 128 + 15, as a process it killed would
    # give, so whatever sent it sees the job did not finish; its checkpoint is saved.
    return 143 if exp.trainer.callback(StopOnInterrupt).terminated else 0


def cmd_predict(args):
    from .predict import list_images, load_model, parse_background, predict_files
    if args.video is not None:                      # a clip: npcae/predict/video.py
        from .predict.video import predict_clip
        if args.inputs or args.at != "trained":
            raise UsageError("--video reads one clip at the model's trained size; give no photos "
                             "and no --at with it (see npcae predict --help)")
        report = predict_clip(args.video, args.weights, args.out, args.background, args.smooth,
                              args.truth, args.frames, args.fps, args.show, args.tta)
        scores = report.scores.result()
        print(f"wrote {report.frames} frames to {Path(args.out).expanduser()}: {report.fps:.2f} "
              f"frames per second ({report.seconds:.2f} s: decoding, model, writing)")
        print(f"temporal stability: mean IoU of consecutive masks {scores['stability']:.4f}")
        if "iou" in scores:
            print(f"against the truth: mean IoU {scores['iou']:.4f}, dtSSD {scores['dtssd']:.3f} "
                  f"(x100 on alpha in [0, 1], as Robust Video Matting reports it)")
        return 0
    video_only = [f"--{name}" for name in ("truth", "smooth", "frames", "fps")
                  if getattr(args, name) is not None] + (["--show"] if args.show else [])
    if video_only:
        raise UsageError(f"{', '.join(video_only)} go with --video (see npcae predict --help)")
    if not args.inputs:
        raise UsageError("give photos or folders of photos to predict, or --video IN "
                         "(see npcae predict --help)")
    background = None if args.background is None else parse_background(args.background)
    trained = load_model(args.weights)
    model, size, task = trained.inference_model, trained.size, trained.task
    files = list_images(args.inputs)
    names = predict_files(model, size, files, args.out, task, background=background, at=args.at,
                          tta=args.tta)
    print(f"wrote the {task.name} task's PNGs for {len(names)} images to {Path(args.out).expanduser()}")
    return 0


def cmd_evaluate(args):
    from .train.evaluation import evaluate_saved
    trained, total, per_image = evaluate_saved(args.weights, args.data, args.palette, args.size,
                                               category=args.category, tta=args.tta,
                                               crowd=args.crowd, resolution=args.resolution,
                                               held_out=args.held_out)
    if hasattr(trained.task, "table"):
        print("\n".join(trained.task.table(total, per_image)))
        return 0
    names = list(total.result())
    print(f"{'image':<24}" + "".join(f"{LABELS.get(name, name):>10}" for name in names))
    for image, values in per_image.items():
        print(f"{image:<24}" + "".join(f"{values[name]:>10.4f}" for name in names))
    # Pooled over every pixel (total) and averaged over images (mean): one large person
    # weighs more in the first; every photo counts the same in the second, as COCO-style
    # per-image scores do.
    print(f"{'total':<24}" + "".join(f"{total.result()[name]:>10.4f}" for name in names))
    means = {name: math.fsum(values[name] for values in per_image.values()) / len(per_image)
             for name in names}
    print(f"{'mean per image':<24}" + "".join(f"{means[name]:>10.4f}" for name in names))
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
    bar = (lambda items, description: items) if args.no_progress else progress_bar
    if coco_path(args.data) is not None:
        from .data.coco_inspection import inspect_coco
        if args.classes is not None or args.palette:
            raise UsageError("--classes and --palette are for masks of class ids; a COCO file "
                             "names its categories (--category)")
        report = inspect_coco(args.data, category=args.category, progress=bar)
    elif args.category is not None:
        raise UsageError(f"--category is for COCO data (coco:FILE.json), not {args.data}")
    else:
        report = inspect_data(args.data, classes=args.classes, palette=palette, progress=bar)
    print("\n".join(report.lines()))
    return 1 if report.problems else 0


def progress_bar(items, description):
    """A bar on stderr over a list of files, gone when it is done (stdout keeps the report)."""
    from tqdm import tqdm
    return tqdm(items, desc=description, unit="file", leave=False, file=sys.stderr,
                disable=None)                     # None: no bar when stderr is not a terminal


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
    if (args.algo or args.model) and list(args.which) != ["conv"]:
        raise UsageError("--algo and --model go with npcae bench conv (the kernel lab)")
    for name in args.which or DEFAULT_BENCHMARKS:
        command = [sys.executable, "-m", f"benchmarks.bench_{name}"]
        if name == "conv" and (args.algo or args.model):
            command = [sys.executable, "-m", "benchmarks.bench_lab", "--model", args.model or "cae"]
            command += ["--algo", args.algo] if args.algo else []
        if args.size and name in ("kernels", "conv"):
            command += ["--size", args.size]
        if args.compare_torch and name in ("step", "unet"):
            command += ["--compare-torch", args.compare_torch]
        if args.out:
            command += ["--out", str(Path(args.out).resolve())]   # the child runs from the root
        print(f"== python {' '.join(command[1:])}", flush=True)
        if subprocess.run(command, env=environment_as_given(), cwd=folder.parent).returncode != 0:
            raise UsageError(f"benchmarks.bench_{name} failed (its message is above)")
    return 0


def cmd_gradcheck(args):
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
    except BrokenPipeError:                 # `npcae gradcheck | head`: the reader has enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no error at exit
        return 141                          # 128 + SIGPIPE, what a killed C tool gives
    except OSError as error:                # the disk, not the input: full, read-only, gone
        print(f"npcae: error: {describe(error)}; nothing half-written was left", file=sys.stderr)
        return 4


def describe(error):
    """An OSError in a few words, with the file it concerns."""
    where = f" {error.filename}" if error.filename else ""
    return f"cannot write or read{where}: {error.strerror or error}"


if __name__ == "__main__":
    sys.exit(main())
