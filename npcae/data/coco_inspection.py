"""`npcae inspect coco:FILE.json`: what a COCO instances file holds, before training on it.

    report = inspect_coco("coco:coco/annotations/instances_val2017.json", category="person")
    print("\n".join(report.lines()));  report.problems    # [(file, what is wrong), ...]

Per category: the images holding it, its instances, how many are crowd regions (iscrowd=1:
one run-length-encoded region over a group, which npcae's masks count as foreground), and
the masks' coverage (the share of an image's pixels the category covers, averaged over the
images holding it). For every category the coverage comes from the annotations' own `area`
fields (their pixel counts; overlapping instances can count a pixel twice, so it is capped at
the whole image); for the category given, masks are decoded as training decodes them (the
union of its instances, npcae.data.coco) and the figures are exact, with the crowds' share of
the mask pixels. Missing image files are problems, collected rather than raised, so one run
names them all; a file that is not a COCO instances file at all is one DataError, as training
would refuse it.
"""
import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .coco import CocoFrames, coco_path, find_category, images_beside, read_images, read_json
from .frames import FileError
from .inspection import problem_lines


def _quiet(items, description):
    return items


@dataclass
class CategoryFigures:
    name: str
    id: int
    images: int = 0
    instances: int = 0
    crowds: int = 0
    coverage: float = 0.0                  # mean over the images holding it, from `area`


@dataclass
class CocoReport:
    data: str
    images: int
    image_dir: str
    categories: list                       # CategoryFigures, most images first
    decoded: dict = field(default_factory=dict)    # the --category's exact mask figures
    problems: list = field(default_factory=list)   # [(path, what is wrong)]

    def lines(self):
        instances = sum(c.instances for c in self.categories)
        crowds = sum(c.crowds for c in self.categories)
        out = [f"{self.data}:",
               f"  {self.images} images in {self.image_dir}, {len(self.categories)} categories "
               f"with instances, {instances} instances ({crowds} crowd regions, "
               f"{crowds / max(instances, 1):.1%})",
               f"  {'category':<16}{'id':>5}{'images':>8}{'instances':>11}{'crowds':>8}"
               f"{'crowd share':>13}{'coverage':>10}"]
        for c in self.categories:
            out.append(f"  {c.name:<16}{c.id:>5}{c.images:>8}{c.instances:>11}{c.crowds:>8}"
                       f"{c.crowds / c.instances:>13.1%}{c.coverage:>10.1%}")
        if self.decoded:
            d = self.decoded
            out.append(f"  {d['name']} masks decoded (the union of its instances, crowds as "
                       f"foreground): {d['images']} images, coverage mean {d['mean']:.1%} "
                       f"(median {d['median']:.1%}, min {d['min']:.1%}, max {d['max']:.1%}); "
                       f"crowd regions hold {d['crowd_share']:.1%} of the mask pixels")
        return out + problem_lines(self.problems)


def category_figures(data, images):
    """CategoryFigures of every category with an instance, from the annotations' fields."""
    names = {entry["id"]: str(entry["name"]) for entry in data["categories"]
             if isinstance(entry, dict) and "id" in entry and "name" in entry}
    holding, instances, crowds, area = {}, Counter(), Counter(), Counter()
    for entry in data["annotations"]:
        if not isinstance(entry, dict) or entry.get("image_id") not in images:
            continue
        category = entry.get("category_id")
        holding.setdefault(category, set()).add(entry["image_id"])
        instances[category] += 1
        crowds[category] += bool(entry.get("iscrowd", 0))
        area[category, entry["image_id"]] += float(entry.get("area", 0) or 0)
    figures = []
    for category, image_ids in holding.items():
        shares = [min(1.0, area[category, i] / (images[i].hw[0] * images[i].hw[1])) for i in image_ids]
        figures.append(CategoryFigures(names.get(category, f"(unlisted {category})"), category,
                                       len(image_ids), instances[category], crowds[category],
                                       float(np.mean(shares))))
    return sorted(figures, key=lambda c: (-c.images, c.id))


def decoded_figures(path, category, image_dir, progress):
    """Exact coverage of `category`'s masks, decoded as training decodes them, and the share of
    their pixels that only crowd regions cover."""
    frames = CocoFrames(path, (1, 1), cache_mb=0, category=category, image_dir=image_dir)   # no pixels read
    coverage, mask_pixels, crowd_only = [], 0, 0
    for name in progress(frames.names, f"decoding {frames.category['name']} masks"):
        union = frames.native_mask(name)
        coverage.append(union.mean())
        mask_pixels += int(union.sum())
        crowd_only += int(frames.crowd_only(name).sum())
    coverage = np.array(coverage)
    return dict(name=frames.category["name"], images=len(frames), mean=coverage.mean(),
                median=float(np.median(coverage)), min=coverage.min(), max=coverage.max(),
                crowd_share=crowd_only / max(mask_pixels, 1))


def inspect_coco(spec, category=None, image_dir=None, progress=_quiet):
    """The CocoReport of a "coco:PATH" spec (and, for `category`, its decoded masks)."""
    path = coco_path(spec)
    data = read_json(path)
    images = read_images(path, data)
    folder = image_dir if image_dir is not None else images_beside(path)
    try:
        present = {entry.name for entry in os.scandir(folder)}
    except OSError as error:
        raise FileError(folder, f"cannot be listed: {error.strerror or error}") from None
    problems = [(folder / image.file, f"is missing (named in {path.name})")
                for image in images.values() if image.file.as_posix() not in present]
    report = CocoReport(str(spec), len(images), str(folder), category_figures(data, images),
                        problems=problems)
    if category is not None:
        entry = find_category(path, data, category)
        del data
        if not problems:                 # decoding needs every image's entry, not its pixels
            report.decoded = decoded_figures(path, entry["id"], folder, progress)
    return report
