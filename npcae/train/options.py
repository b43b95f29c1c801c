"""Every setting of a training run, declared once: its default, its check, its command-line
option and help, and whether a resumed run may change it. The parser of `npcae train`,
DEFAULTS, settings() and the resume policy all read this list, so a new run option is one
Option here plus the line of assemble() that uses it.

    Option("grad_every", 10, check=count, resumable=True,
           help="record per-layer gradient norms every N epochs (default {default}; 0: off)")

An option with help=None is a run setting without a command-line option (set from Python, a
stored run, or the model's and the data set's run defaults).
"""
import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..data.frames import DEFAULT_CACHE_MB
from ..data.coco import PREFIX as COCO_PREFIX
from ..data.registry import DATASETS
from ..models import BUILDERS
from ..optim import SCHEDULES


# -- reading command-line text -------------------------------------------------------------
def parse_size(text):
    """'256x128' -> (256, 128): height x width."""
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


AMOUNT_NAMES = ("scale", "shift", "brightness", "contrast", "blur", "noise", "jpeg", "paste")


def parse_amounts(text):
    """"scale=0.5,jpeg=30" -> {"scale": 0.5, "jpeg": 30}: Augmenter's amounts by name (their
    ranges are checked where the run's settings are)."""
    amounts = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in AMOUNT_NAMES:
            raise argparse.ArgumentTypeError(f"augmentation amounts are NAME=VALUE of "
                                             f"{', '.join(AMOUNT_NAMES)}, got {item!r}")
        try:
            amounts[key] = int(value) if key == "jpeg" else float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"augmentation {key} needs a number, got {value!r}")
    return amounts


def parse_weights(text):
    if text == "auto":
        return text
    try:
        weights = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"class weights must be auto or numbers like 1,0.5,2, got {text!r}")
    if not all(math.isfinite(w) for w in weights) or min(weights) < 0:
        raise argparse.ArgumentTypeError(f"class weights must be finite numbers, none negative, "
                                         f"got {text!r}")
    return weights


# -- checks: each returns what is wrong ("must be ...") or None -----------------------------
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def positive(value):
    return None if _is_int(value) and value >= 1 else "must be a positive integer"


def count(value):
    return None if _is_int(value) and value >= 0 else "must be 0 or a positive integer"


def optional(check):
    def optional_check(value):
        return None if value is None else check(value)
    return optional_check


def positive_number(value):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf
    return None if ok else "must be a positive number"


def fraction(value):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    return None if ok else "must be a fraction between 0 and 1"


def boolean(value):
    return None if isinstance(value, bool) else "must be true or false"


def path_text(value):
    return None if isinstance(value, str) else "must be a path as text (str)"


def one_of(*choices):
    def choice_check(value):
        return None if value in choices else f"must be one of {', '.join(map(str, choices))}"
    return choice_check


# -- storing a folder whole, so that a run resumes from any working directory ----------------
def whole_path(text, kind="folder"):
    """A folder (or, kind="file", a file; kind="any", either) as an absolute path; a data set
    name as it is; a COCO spec with its file made absolute (coco:/abs/instances_train2017.json)."""
    if text in DATASETS:
        return text
    if text.startswith(COCO_PREFIX):
        return COCO_PREFIX + whole_path(text[len(COCO_PREFIX):], "file")
    path = Path(text).expanduser()
    exists = {"folder": path.is_dir, "file": path.is_file, "any": path.exists}[kind]()
    return str(path.resolve()) if exists else text


def data_setting(given):
    """The run's data setting from --data given once or more: one spec as a string (as every
    run stored before there could be more), several as a list; each made whole."""
    specs = [given] if isinstance(given, str) else list(given)
    specs = [whole_path(spec) for spec in specs]
    return specs[0] if len(specs) == 1 else specs


def data_specs(data):
    """The run's data setting as a list of specs (one, or several: --data given more than once)."""
    return [data] if isinstance(data, str) else list(data)


@dataclass(frozen=True)
class Option:
    key: str                            # the run setting; on the command line --key-with-dashes
    default: object
    help: Optional[str] = None          # None: no command-line option; "{default}" is filled in
    check: Optional[Callable] = None    # value -> "must be ..." or None
    resumable: bool = False             # may a resumed run change it?
    parse: Optional[Callable] = None    # argparse's type= (text -> value)
    to_setting: Optional[Callable] = None   # the parsed value -> the run setting's value
    flag: Optional[str] = None          # the option's spelling when it is not --key-with-dashes
    arguments: dict = field(default_factory=dict)   # more add_argument keywords (metavar, ...)

    @property
    def spelling(self):
        return self.flag or "--" + self.key.replace("_", "-")


def _names(names):
    return names.split(",")


OPTIONS = [
    # -- what is learnt -------------------------------------------------------------------
    Option("data", "synthetic", resumable=True, to_setting=lambda given: data_setting(given),
           arguments=dict(action="append"),
           help=f"a data set name ({', '.join(DATASETS)}), a folder with images/ and masks/, or "
                "coco:FILE.json (default {default}); given more than once, the run trains on "
                "the union of the sets' training frames"),
    Option("size", None, parse=parse_size, to_setting=list, arguments=dict(metavar="HxW"),
           help="HxW (default: the data set's, e.g. tiktok-136 1024x512, synthetic 256x128)"),
    Option("model", "cae", help=f"a registered model: {', '.join(BUILDERS)} (default {{default}})"),
    Option("model_args", {}),           # the builder's arguments: MODEL_OPTIONS on the command line
    Option("category", None, help="the category of COCO data (--data coco:FILE.json), by name "
                                  "or id, e.g. person: its instances make the masks"),
    Option("keep_empty", False, check=boolean, arguments=dict(action=argparse.BooleanOptionalAction),
           help="COCO data: keep the images without the category, with empty masks (default: "
                "left out, so that every frame shows what is learnt)"),
    Option("images", None, resumable=True, to_setting=whole_path, arguments=dict(metavar="DIR"),
           help="COCO data: the folder of --data's images (default: where the official layout "
                "puts them, train2017/ beside annotations/)"),
    Option("task", None),               # None: what the data's masks hold (tasks.TASKS)
    Option("loss", None, help="terms of dice, focal, binary_focal, bce, mse, lovasz for masks (default "
                              "dice+focal); of ce, dice for class ids (default ce; "
                              "cityscapes-pix2pix ce+dice)"),
    Option("classes", None, parse=int,
           help="class ids: 19 (Cityscapes' classes, the default of multi-class data), 7 (its "
                "categories), or the --palette file's count"),
    Option("palette", None, to_setting=lambda text: whole_path(text, "file"),
           arguments=dict(metavar="FILE"),
           help="the label colours of multi-class data: one 'name, R, G, B' line per class, "
                "'void, R, G, B' for colours to ignore (default Cityscapes')"),
    Option("palette_table", None),      # the --palette file's classes and colours, stored with the run
    Option("init_from", None, check=optional(path_text), to_setting=lambda given: whole_path(given, "any"),
           arguments=dict(metavar="RUN"),
           help="start from the weights of a trained run (its folder, weights.npz or "
                "checkpoint.npz) of the same model and arguments: fine-tuning, or a model "
                "trained at a smaller --size first; the optimiser and schedule start afresh"),
    Option("class_weights", None, parse=parse_weights, arguments=dict(metavar="auto|W1,W2,..."),
           help="weigh the cross-entropy of each class: auto (median-frequency balancing from "
                "the training masks) or one number per class (default: all 1)"),
    # -- how long and how fast ------------------------------------------------------------
    Option("epochs", 500, check=positive, resumable=True, parse=int,
           help="train until this many epochs (default {default})"),
    Option("batch_size", None, check=optional(positive), parse=int,
           help="frames per step (default: every training frame in one batch, as the original)"),
    Option("lr", 5e-4, check=positive_number, parse=float,
           help="Adam's learning rate (default {default:g})"),
    Option("lr_schedule", "constant", check=one_of(*SCHEDULES), arguments=dict(choices=SCHEDULES),
           help="constant; cosine: decay to 1%% of --lr over the epochs; warmup-cosine: rise to "
                "--lr over the first 5%% of them, then the cosine (default {default})"),
    Option("ema", 0.0, check=lambda v: None if v == 0 else fraction(v), parse=float,
           arguments=dict(metavar="DECAY"),
           help="validate and keep an exponential moving average of the weights, e.g. 0.999 "
                "(default {default:g}: off)"),
    Option("shuffle", True, check=boolean),
    Option("seed", 0, check=count, parse=int,
           help="weights, dropout, shuffling, augmentation (default {default})"),
    Option("augment", False, check=boolean, arguments=dict(action=argparse.BooleanOptionalAction),
           help="flips, shifts, zoom, brightness/contrast (default: off for the CAE, on for "
                "the U-Net)"),
    Option("augment_args", {}, parse=lambda text: parse_amounts(text), flag="--augment-amounts",
           arguments=dict(metavar="NAME=V,..."),
           help="augmentation amounts, each replacing the model's or data's one: scale (zoom in "
                "1 +- scale), shift, brightness, contrast, blur (pixels), noise, jpeg (lowest "
                "quality), paste (the chance of pasting another photo's people, resized: binary "
                "masks), e.g. scale=0.5,blur=1.5,jpeg=30,paste=0.5 (turns --augment on)"),
    Option("balance", "frames", check=one_of("frames", "sources"), arguments=dict(choices=("frames", "sources")),
           help="frames: every training frame once an epoch; sources: with several --data, each "
                "set drawn equally often (a small set repeated, a large one sampled) (default {default})"),
    # -- which frames are held out --------------------------------------------------------
    Option("train_names", None, to_setting=_names,
           help="comma-separated training frames; the rest are held out"),
    Option("n_train", None, check=optional(positive), parse=int,
           help="train on the first N frames, hold out the rest"),
    Option("val_split", None, check=optional(fraction), parse=float,
           help="hold out this fraction, chosen by the seed (default for folders: 0.1)"),
    Option("val_data", None, resumable=True, to_setting=whole_path,
           help="hold out every frame of this data set or folder"),
    # -- how often things happen ------------------------------------------------------------
    Option("val_every", 10, check=positive, resumable=True, parse=int,
           help="validate every N epochs (default {default}; validating costs more than a step)"),
    Option("checkpoint_every", 50, check=count, resumable=True, parse=int,
           help="write checkpoint.npz every N epochs (default {default}; 0: only at the end "
                "and on Ctrl-C)"),
    Option("snapshot_every", 50, check=count),
    Option("grad_every", 10, check=count, resumable=True, parse=int,
           help="record per-layer gradient norms every N epochs for gradient_flow.png (default "
                "{default}; 0: off)"),
    Option("eval_batch", 3, check=positive),    # frames per inference batch (bounds im2col memory)
    Option("train_eval", "auto", check=one_of("auto", True, False)),   # validate training frames too
    Option("cache_mb", DEFAULT_CACHE_MB, check=count, resumable=True, parse=int,
           help="keep the decoded frames in memory when they fit in this many MB (default {default})"),
]
# Arguments of the model's builder rather than run settings: stored together as the run's
# model_args ({"filters": [4, 32, 256]}), each taken by the models whose builder has it.
MODEL_OPTIONS = [
    Option("filters", None, parse=parse_filters, arguments=dict(metavar="F1,F2,..."),
           help="the model's filters per level (cae: 4,32,256; unet: 16,32,64,128,256)"),
    Option("alpha", None, parse=float,
           help="MobileNetV2's width multiplier (mobilenet_unet: 0.35, 0.5, 0.75 or 1.0; default 1.0)"),
]
OPTION = {option.key: option for option in OPTIONS}
DEFAULTS = {option.key: option.default for option in OPTIONS}
# What a resumed run may change: the target, how often things happen, and where the data lives
# (a moved folder: restore checks that its frames are the run's, by name). Anything else would
# make the resumed run a different run.
RESUMABLE = tuple(option.key for option in OPTIONS if option.resumable)


def spelling(key):
    """How messages name a run setting to a command-line user: grad_every -> --grad-every."""
    if key == "model_args":
        return "/".join(option.spelling for option in MODEL_OPTIONS)
    return OPTION[key].spelling if key in OPTION else key


def add_arguments(parser):
    """Add every command-line option of a run to `parser` (argparse), each defaulting to None
    so that what was not given can be told apart (and left to the model's and data's defaults,
    or on --resume to the stored run)."""
    for option in [*OPTIONS, *MODEL_OPTIONS]:
        if option.help is None:
            continue
        keywords = dict(option.arguments, default=None, dest=option.key,
                        help=option.help.format(default=option.default))
        if option.parse is not None:
            keywords["type"] = option.parse
        parser.add_argument(option.spelling, **keywords)


def given_settings(args):
    """The run settings an argparse namespace gives explicitly (those left out are absent)."""
    given = {}
    for option in OPTIONS:
        value = getattr(args, option.key, None) if option.help is not None else None
        if value is not None:
            given[option.key] = option.to_setting(value) if option.to_setting else value
    model_args = {option.key: getattr(args, option.key) for option in MODEL_OPTIONS
                  if getattr(args, option.key, None) is not None}
    if model_args:
        given["model_args"] = model_args
    return given
