"""`npcae inspect DATA`: what a data set holds, and what is wrong with it, before training.

    report = inspect_data("cityscapes-pix2pix")        # a registered name or a folder
    print("\n".join(report.lines()));  report.problems  # [(file, what is wrong), ...]

Two layouts are read: images/ + masks/ folders (binary masks, or class ids with classes=), and
folders of pix2pix composites (photo | colour labels), alone or as train/ and val/ parts. Every
file is decoded at its own size (nothing is resized), so the figures are the files': the
number of pairs, the image and mask sizes, the mask values (binary) or each class's share of
the labelled pixels (class ids), for colour labels how many pixels did not snap to the palette,
how many images a U-Net would pad, and suggested class weights. Problems are collected, not
raised, so one run names every broken file, unpaired file, mask of another size and composite
whose colours are far from the palette, and a set without one labelled pixel.

What training refuses, inspect names as a problem: it runs the readers' own checks (the pairing
of npcae.data.folder.find_pairs, the headers of composites.scan_composites, and every file
decoded by the readers' functions, composites.read_composite with its check of the label half),
not a copy of their rules, and it opens the folders training opens (a registered set's parts;
for a folder path, the folder itself).
"""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .composites import CompositeFrames, number_order, read_composite, scan_composites
from .folder import (ASPECT_TOLERANCE, KAGGLE_SUBDIR, find_pairs, open_class_ids, open_image, open_mask,
                     resolve_root)
from .frames import DataError, FileError
from .labels import IGNORE, median_frequency_weights
from .palette import CITYSCAPES_19, MAX_DISTANCE, as_classes, fits, predicted_palette
from .registry import DATASETS, dataset

# A composite whose label half has more than this share of pixels far from every palette colour
# is named: on cityscapes-pix2pix 3-10% do not snap (JPEG-blurred boundaries), so a quarter
# means another palette, a photo where the labels should be, or labels on the other side.
UNSNAPPED_LIMIT = 0.25
PAD_MULTIPLE = 16           # the default U-Net's 4 poolings


@dataclass
class PartReport:
    """The figures of one folder of pairs (a set, or its train/ or val/ part)."""
    name: str
    kind: str                                   # "composites", "binary" or "classes"
    pairs: int = 0
    image_sizes: Counter = field(default_factory=Counter)     # (H, W) -> files
    mask_sizes: Counter = field(default_factory=Counter)
    mask_values: Counter = field(default_factory=Counter)     # binary: gray level -> pixels
    class_pixels: np.ndarray = None             # class ids: pixels per class (K,), then ignored
    ignored: int = 0
    labelled: int = 0
    far: int = 0                                # colour labels: pixels far from every palette colour
    unsnapped_share: list = field(default_factory=list)       # composites: per file
    to_pad: int = 0
    masks: list = field(default_factory=list)   # class ids per file, for the weights (small copies)
    resized: list = field(default_factory=list)  # masks of another size, same aspect: resized on reading


@dataclass
class Report:
    data: str
    parts: list
    problems: list                               # [(path, what is wrong)]
    names: tuple = ()

    def lines(self):
        out = [f"{self.data}:"]
        for part in self.parts:
            out += _part_lines(part, self.names)
        return out + problem_lines(self.problems)


def problem_lines(problems):
    """The report's last lines: each (path, what is wrong), or that there is none."""
    if not problems:
        return ["no problems found"]
    return ([f"{len(problems)} problem{'s' if len(problems) > 1 else ''}:"]
            + [f"  {path}: {what}" for path, what in problems])


def _sizes(counter):
    common = ", ".join(f"{h}x{w} ({n})" for (h, w), n in counter.most_common(3))
    more = len(counter) - 3
    return common + (f" and {more} other sizes" if more > 0 else "")


def _part_lines(part, names):
    out = [f"  {part.name}: {part.pairs} {'composites' if part.kind == 'composites' else 'pairs'}"]
    if not part.pairs:
        return out
    what = "photos (half of each composite)" if part.kind == "composites" else "images"
    out.append(f"    {what}: {_sizes(part.image_sizes)}")
    if part.mask_sizes:
        out.append(f"    masks: {_sizes(part.mask_sizes)}")
    if part.resized:
        shown = ", ".join(path.name for path in part.resized[:3])
        out.append(f"    {len(part.resized)} masks differ in size from their images with the same "
                   f"aspect ratio ({shown}{', ...' if len(part.resized) > 3 else ''}): resized to them "
                   f"by nearest neighbour when read")
    out.append(f"    {part.to_pad} of {part.pairs} are not multiples of {PAD_MULTIPLE} in both sides "
               f"(a U-Net pads them when run at their own size, npcae predict --at own)")
    if part.kind == "binary":
        total = sum(part.mask_values.values())
        zero = part.mask_values.get(0, 0)
        other = sorted(v for v in part.mask_values if v not in (0, 255))
        out.append(f"    mask values: {len(part.mask_values)} gray levels; 0 (background) "
                   f"{100 * zero / total:.1f}% of the pixels, 255 "
                   f"{100 * part.mask_values.get(255, 0) / total:.1f}%"
                   + (f", {len(other)} levels between (read as foreground)" if other else ""))
        return out
    total = part.labelled + part.ignored
    out.append(f"    labelled pixels: {part.labelled} ({100 * part.labelled / max(total, 1):.1f}%), "
               f"ignored {part.ignored}")
    if part.unsnapped_share:
        shares = np.array(part.unsnapped_share)
        out.append(f"    label pixels far from every palette colour: {100 * shares.mean():.1f}% on "
                   f"average, {100 * np.median(shares):.1f}% median, worst "
                   f"{100 * shares.max():.1f}% (these are ignored)")
    freq = part.class_pixels / max(part.labelled, 1)
    weights = median_frequency_weights(part.masks, len(part.class_pixels)) if part.labelled else None
    out.append(f"    {'class':<16}{'share':>8}{'weight':>9}   (share of the labelled pixels; about "
               f"median-frequency weight, --class-weights auto)")
    for k, share in enumerate(freq):
        name = names[k] if k < len(names) else str(k)
        weight = f"{weights[k]:9.2f}" if weights is not None else " " * 9
        out.append(f"    {name:<16}{100 * share:7.2f}%{weight}")
    return out


def _multiple(hw):
    return hw[0] % PAD_MULTIPLE == 0 and hw[1] % PAD_MULTIPLE == 0


def _small(ids, side=64):
    """A subsample of an id mask, enough for median-frequency weights without keeping every pixel."""
    step_h, step_w = max(1, ids.shape[0] // side), max(1, ids.shape[1] // side)
    return ids[::step_h, ::step_w].copy()


def _add_ids(part, ids, classes, far=None):
    """Count a mask's class ids; far: the share of its pixels far from every palette colour
    (colour labels), None for ids read as they are."""
    counts = np.bincount(ids.reshape(-1), minlength=256)
    part.class_pixels += counts[:classes]
    part.ignored += int(counts[IGNORE])
    part.labelled += int(counts[:classes].sum())
    part.masks.append(_small(ids))
    if far is not None:
        part.unsnapped_share.append(far)
        part.far += int(round(far * ids.size))


def _far_colours(path, far, problems, guess="another palette, or the labels on the other side?"):
    if far > UNSNAPPED_LIMIT:
        problems.append((path, f"{100 * far:.0f}% of its label pixels are far from every palette "
                               f"colour (over {100 * UNSNAPPED_LIMIT:.0f}%): {guess}"))


def _unlabelled(part, noun, nouns):
    """Why a part of class ids counted no labelled pixel, in words that follow its folder's name."""
    files = f"its {part.pairs} {noun if part.pairs == 1 else nouns}"
    if not part.unsnapped_share:                    # ids read as they are: all IGNORE
        return f"every pixel of {files} is the ignore label {IGNORE}: nothing to train on or to count"
    if part.far >= part.ignored:
        return (f"no pixel of {files} is within {MAX_DISTANCE:g} of a palette colour: labels in "
                f"another palette (give it with --palette), or not colour labels")
    if not part.far:
        return f"every pixel of {files} is a void colour: nothing to train on or to count"
    return (f"no pixel of {files} is labelled: {100 * part.far / part.ignored:.0f}% are far from "
            f"every palette colour (over {MAX_DISTANCE:g}), the rest void colours")


def _quiet(items, description):
    return items


def _named(error, path):
    """(file, what is wrong) of a reader's DataError: a FileError names its own file."""
    if isinstance(error, FileError):
        return error.path, error.what
    return path, str(error)


def inspect_composites(folder, name, palette, classes, problems, progress=_quiet):
    """A folder of composites: the reader's scan (scan_composites), then every file read as the
    reader reads it (read_composite: a label half that is not colour labels is a problem)."""
    part = PartReport(name, "composites", class_pixels=np.zeros(classes, np.int64))
    files, scanned = scan_composites(folder)
    problems += [(error.path, error.what) for error in scanned]
    for path in progress(files, f"{name}: composites"):
        far = []
        try:
            photo, ids = read_composite(path, palette, far=far)
        except DataError as error:
            problems.append(_named(error, path))
            continue
        part.pairs += 1
        part.image_sizes[photo.shape[:2]] += 1
        part.to_pad += not _multiple(photo.shape[:2])
        _far_colours(path, far[0], problems)
        _add_ids(part, as_classes(ids, palette, classes), classes, far[0])
    if part.pairs and not part.labelled:
        problems.append((Path(folder), _unlabelled(part, "label half", "label halves")))
    return part


def inspect_pairs(root, name, classes, palette, problems, progress=_quiet):
    """images/ + masks/: the reader's pairing (find_pairs), then every pair's sizes and mask
    values (binary) or class ids."""
    kind = "binary" if classes is None else "classes"
    part = PartReport(name, kind, class_pixels=None if classes is None else np.zeros(classes, np.int64))
    found, scanned = find_pairs(root)
    problems += [(error.path, error.what) for error in scanned]
    for stem, image_path, mask_path in progress(sorted(found, key=lambda pair: number_order(Path(pair[0]))),
                                                f"{name}: pairs"):
        far = []
        try:
            image = open_image(image_path)
            mask = (open_mask(mask_path) if classes is None else
                    open_class_ids(mask_path, classes, palette, far=far))
        except DataError as error:
            problems.append(_named(error, image_path))
            continue
        hw, mask_hw = image.size[::-1], mask.size[::-1]
        part.pairs += 1
        part.image_sizes[hw] += 1
        part.mask_sizes[mask_hw] += 1
        part.to_pad += not _multiple(hw)
        if mask_hw != hw:
            if abs(mask_hw[0] * hw[1] / (mask_hw[1] * hw[0]) - 1) <= ASPECT_TOLERANCE:
                part.resized.append(mask_path)
            else:
                problems.append((mask_path, f"is {mask_hw[0]}x{mask_hw[1]} but its image is "
                                            f"{hw[0]}x{hw[1]}: another aspect ratio, which training "
                                            f"refuses"))
        pixels = np.asarray(mask)
        if classes is None:
            part.mask_values.update(dict(zip(*(v.tolist() for v in np.unique(pixels, return_counts=True)))))
        else:
            if far:                                    # RGB label colours, snapped to the palette
                _far_colours(mask_path, far[0], problems, "another palette?")
            _add_ids(part, pixels, classes, far[0] if far else None)
    if classes is not None and part.pairs and not part.labelled:
        problems.append((root / "masks", _unlabelled(part, "mask", "masks")))
    return part


def _holds_pairs(folder):
    """Whether training reads `folder` as images/ + masks/ (folder.resolve_root), not composites."""
    return any((folder / sub).is_dir() for sub in ("images", "masks", f"{KAGGLE_SUBDIR}/images"))


def inspect_data(spec, classes=None, palette=None, progress=_quiet):
    """The Report of a registered data set or a folder (see the module's docstring).
    `progress(items, description)` wraps each list of files read (the command line: a bar
    on stderr, as 3,475 composites take minutes)."""
    problems = []
    entry = DATASETS.get(spec)
    if entry is not None and entry.render is not None:
        raise DataError(f"{spec} is rendered on the fly with exact masks; there are no files to inspect")
    multiclass = (entry is not None and entry.task == "multiclass") or classes is not None or palette is not None
    palette = palette or CITYSCAPES_19
    classes = classes if classes is not None else (len(palette.names) if multiclass else None)
    if classes is not None and not fits(palette, classes):
        raise DataError(f"--classes {classes} does not match the palette's {len(palette.names)} classes"
                        + (" (or 7, its categories)" if palette is CITYSCAPES_19 else ""))
    folder = dataset(spec).folder() if entry is not None else Path(spec).expanduser()
    if not folder.is_dir():
        raise DataError(f"no folder for {spec} at {folder}" + (" (fetch it: npcae fetch-data "
                                                                f"{spec}, or set NPCAE_DATA)" if entry else ""))
    names = predicted_palette(palette, classes).names
    # The folders training opens: a registered set's parts (cityscapes-pix2pix: train/, val/),
    # else the folder itself (npcae.data.registry.open_frames, Dataset.open).
    roots = [folder / sub for sub in entry.parts] if entry is not None and entry.parts else [folder]
    parts = []
    for root in roots:
        pairs = _holds_pairs(root) if entry is None else entry.reader is not CompositeFrames
        if pairs:
            parts.append(inspect_pairs(resolve_root(root), root.name, classes, palette, problems,
                                       progress))
            continue
        count = len(palette.names) if classes is None else classes
        before = len(problems)
        parts.append(inspect_composites(root, root.name, palette, count, problems, progress))
        if problems[before:] == [(root, "holds no composite images")]:   # no file, no part with files
            raise DataError(f"{root} holds neither images/ and masks/ nor composite images")
    return Report(str(spec), parts, problems, tuple(names))
