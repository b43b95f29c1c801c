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
whose colours are far from the palette.
"""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .composites import IMAGE_SUFFIXES, composite_files, number_order
from .folder import ASPECT_TOLERANCE, is_hidden, open_class_ids, open_image, open_mask, resolve_root
from .frames import DataError
from .labels import IGNORE, median_frequency_weights
from .palette import CITYSCAPES_19, as_classes, fits, predicted_palette, snap, split_composite
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
        if self.problems:
            out.append(f"{len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}:")
            out += [f"  {path}: {what}" for path, what in self.problems]
        else:
            out.append("no problems found")
        return out


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


def _add_ids(part, ids, classes):
    counts = np.bincount(ids.reshape(-1), minlength=256)
    part.class_pixels += counts[:classes]
    part.ignored += int(counts[IGNORE])
    part.labelled += int(counts[:classes].sum())
    part.masks.append(_small(ids))


def _quiet(items, description):
    return items


def inspect_composites(folder, name, palette, classes, problems, progress=_quiet):
    part = PartReport(name, "composites", class_pixels=np.zeros(classes, np.int64))
    for path in progress(composite_files(folder), f"{name}: composites"):
        try:
            image = np.asarray(open_image(path))
        except DataError as error:
            problems.append((path, str(error).replace(f"{path}", "").strip(" :") or "unreadable"))
            continue
        if image.shape[1] % 2:
            problems.append((path, f"{image.shape[1]} pixels wide: an odd width has no middle to "
                                   f"split photo and labels at"))
            continue
        photo, labels = split_composite(image)
        part.pairs += 1
        part.image_sizes[photo.shape[:2]] += 1
        part.to_pad += not _multiple(photo.shape[:2])
        ids = snap(labels, palette, far=part.unsnapped_share)
        far = part.unsnapped_share[-1]
        if far > UNSNAPPED_LIMIT:
            problems.append((path, f"{100 * far:.0f}% of its label pixels are far from every palette "
                                   f"colour (over {100 * UNSNAPPED_LIMIT:.0f}%): another palette, or "
                                   f"the labels on the other side?"))
        ids = as_classes(ids, palette, classes)
        _add_ids(part, ids, classes)
    return part


def inspect_pairs(root, name, classes, palette, problems, progress=_quiet):
    """images/ + masks/: every pair's sizes and mask values (binary) or class ids."""
    kind = "binary" if classes is None else "classes"
    part = PartReport(name, kind, class_pixels=None if classes is None else np.zeros(classes, np.int64))
    by_stem = lambda folder: {p.stem: p for p in sorted(folder.iterdir())
                              if p.is_file() and not is_hidden(p) and p.suffix.lower() in IMAGE_SUFFIXES}
    images, masks = by_stem(root / "images"), by_stem(root / "masks")
    for stem in sorted(set(images) - set(masks)):
        problems.append((images[stem], f"has no mask in {root / 'masks'}"))
    for stem in sorted(set(masks) - set(images)):
        problems.append((masks[stem], f"has no image in {root / 'images'}"))
    for stem in progress(sorted(set(images) & set(masks), key=lambda s: number_order(Path(s))),
                         f"{name}: pairs"):
        try:
            image = open_image(images[stem])
            mask = open_mask(masks[stem]) if classes is None else open_class_ids(masks[stem], classes, palette)
        except DataError as error:
            problems.append(_named(error, images[stem], masks[stem]))
            continue
        hw, mask_hw = image.size[::-1], mask.size[::-1]
        part.pairs += 1
        part.image_sizes[hw] += 1
        part.mask_sizes[mask_hw] += 1
        part.to_pad += not _multiple(hw)
        if mask_hw != hw:
            if abs(mask_hw[0] * hw[1] / (mask_hw[1] * hw[0]) - 1) <= ASPECT_TOLERANCE:
                part.resized.append(masks[stem])
            else:
                problems.append((masks[stem], f"is {mask_hw[0]}x{mask_hw[1]} but its image is "
                                              f"{hw[0]}x{hw[1]}: another aspect ratio, which training "
                                              f"refuses"))
        pixels = np.asarray(mask)
        if classes is None:
            part.mask_values.update(dict(zip(*(v.tolist() for v in np.unique(pixels, return_counts=True)))))
        else:
            _add_ids(part, pixels, classes)
    return part


def _named(error, image_path, mask_path):
    text = str(error)
    path = mask_path if str(mask_path) in text else image_path
    return path, text.replace(str(path), "").strip(" :") or "unreadable"


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
    if (folder / "images").is_dir() or (folder / "masks").is_dir():
        parts = [inspect_pairs(resolve_root(folder), folder.name, classes, palette, problems,
                               progress)]
    else:
        subfolders = [sub for sub in (folder / "train", folder / "val", folder / "test") if sub.is_dir()]
        count = len(palette.names) if classes is None else classes
        parts = [inspect_composites(sub, sub.name, palette, count, problems, progress)
                 for sub in subfolders or [folder]]
        if not any(part.pairs for part in parts) and not problems:
            raise DataError(f"{folder} holds neither images/ and masks/ nor composite images")
    return Report(str(spec), parts, problems, tuple(names))
