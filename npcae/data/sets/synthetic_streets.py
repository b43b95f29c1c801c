"""synthetic-streets: street scenes with exact Cityscapes class ids, rendered on the fly (offline).

    frame = render_street(seed=0, index=7, size=(256, 256))     # .image (H, W, 3), .ids (H, W)
    composite = street_composite(frame)                          # photo | palette colours
    frames = SyntheticStreets(size=(256, 256))                   # street_000 ... street_299

Each scene is drawn from np.random.SeedSequence([seed, index]) in units of the frame height, so
it does not depend on the size: sky above a horizon at 35-50% of the height; a row of buildings
(some with gaps) and trees standing on it; below, sidewalk, and a road narrowing to a vanishing
point; then poles, cars and people, nearer ones (lower in the frame, larger) painted last. Eight
of Cityscapes' 19 classes occur (road, sidewalk, building, pole, vegetation, sky, person, car).
The photo gives each object its own colour (brick, glass, paint, clothes, skin), windows, lane
marks, brightness and sensor noise; the ids are exact, pixel for pixel, and street_composite
renders them in the palette beside the photo, the layout of cityscapes-pix2pix.
"""
from collections import namedtuple

import numpy as np

from ..dataset import Dataset
from ..frames import DataError, RenderedFrames, check_size
from ..palette import CITYSCAPES_19, colourise, to_categories
from .cityscapes_pix2pix import CITYSCAPES_RUN

ROAD, SIDEWALK, BUILDING, POLE, VEGETATION, SKY, PERSON, CAR = 0, 1, 2, 5, 8, 10, 11, 13
STREET_FRAMES = 300
STREET_TRAIN = 270              # the first 270 train, the last 30 are held out
# What training on it changes in the run defaults (npcae.train.defaults), when not given: the recipe
# of cityscapes-pix2pix, over fewer epochs (a run of a few minutes), with the default cache.
STREETS_RUN = {**CITYSCAPES_RUN, "epochs": 6}
del STREETS_RUN["cache_mb"]
StreetFrame = namedtuple("StreetFrame", "image ids")    # (H, W, 3) uint8, (H, W) uint8


def _paint(ids, photo, where, class_id, colour, rng, grain=0.04):
    ids[where] = class_id
    photo[where] = np.clip(colour + grain * rng.standard_normal((int(where.sum()), 3)), 0, 1)


def _buildings(rng, ids, photo, ys, xs, horizon, aspect):
    x = rng.uniform(-0.1, 0.05)
    while x < aspect:
        width = rng.uniform(0.12, 0.4)
        if rng.random() < 0.8:                                          # else a gap: sky shows
            top = rng.uniform(0.02, horizon - 0.08)
            box = (ys >= top) & (ys < horizon) & (xs >= x) & (xs < x + width)
            wall = rng.choice([[0.55, 0.3, 0.22], [0.75, 0.7, 0.6], [0.45, 0.45, 0.5]])
            _paint(ids, photo, box, BUILDING, np.array(wall) * rng.uniform(0.7, 1.2), rng)
            windows = box & ((ys * 40 % 2) < 1) & ((xs * 30 % 2) < 1.1)
            photo[windows] = photo[windows] * 0.4 + 0.15
        x += width


def _trees(rng, ids, photo, ys, xs, horizon, aspect):
    for _ in range(rng.integers(0, 4)):
        cx, cy = rng.uniform(0, aspect), horizon - rng.uniform(0.08, 0.2)
        r = rng.uniform(0.04, 0.12)
        crown = (ys - cy) ** 2 + (xs - cx) ** 2 < r * r
        trunk = (np.abs(xs - cx) < 0.012) & (ys >= cy) & (ys < horizon + 0.02)
        _paint(ids, photo, crown | trunk, VEGETATION, np.array([0.2, 0.45, 0.15]), rng, 0.08)


def _ground(rng, ids, photo, ys, xs, horizon, aspect):
    below = ys >= horizon
    _paint(ids, photo, below, SIDEWALK, np.array([0.62, 0.6, 0.58]) * rng.uniform(0.8, 1.1), rng)
    vanish = rng.uniform(0.35, 0.65) * aspect
    half = (ys - horizon) * rng.uniform(1.0, 1.8) + 0.01
    road = below & (np.abs(xs - vanish) < half)
    _paint(ids, photo, road, ROAD, np.array([0.3, 0.3, 0.32]) * rng.uniform(0.8, 1.2), rng)
    lane = road & (np.abs(xs - vanish) < 0.006 + 0.01 * (ys - horizon)) & ((ys * 25 % 2) < 1)
    photo[lane] = 0.9
    return vanish, half


def _objects(rng, ids, photo, ys, xs, horizon, aspect, vanish, road_slope):
    """Poles and people on the sidewalk, cars on the road; the nearest painted last."""
    things = []
    for kind, count in ((POLE, rng.integers(0, 4)), (CAR, rng.integers(0, 4)),
                        (PERSON, rng.integers(0, 4))):
        for _ in range(count):
            base = rng.uniform(horizon + 0.04, 1.05)
            depth = base - horizon                                      # nearer: larger
            half_road = depth * road_slope + 0.01
            if kind == CAR:
                x = vanish + rng.uniform(-0.8, 0.8) * half_road
            else:
                side = rng.choice([-1, 1])
                x = vanish + side * (half_road + rng.uniform(0.02, 0.3) * depth * 3)
            things.append((base, kind, x, depth))
    for base, kind, x, depth in sorted(things):
        if kind == POLE:
            shape = ((np.abs(xs - x) < 0.004 + 0.01 * depth) & (ys < base)
                     & (ys > base - 1.2 * depth - 0.1))
            colour = np.array([0.25, 0.25, 0.27])
        elif kind == CAR:
            w, h = 0.7 * depth + 0.02, 0.35 * depth + 0.01
            body = (np.abs(xs - x) < w / 2) & (ys < base) & (ys > base - h * 0.6)
            cabin = (np.abs(xs - x) < w * 0.3) & (ys <= base - h * 0.6) & (ys > base - h)
            shape, colour = body | cabin, rng.uniform(0.05, 0.9, 3)
        else:
            tall = 0.9 * depth + 0.03
            body = (((xs - x) / (0.12 * tall)) ** 2
                    + ((ys - (base - 0.4 * tall)) / (0.42 * tall)) ** 2 < 1)
            head = (xs - x) ** 2 + (ys - (base - 0.88 * tall)) ** 2 < (0.08 * tall) ** 2
            skin = np.array([0.8, 0.6, 0.45]) * rng.uniform(0.5, 1.1)
            _paint(ids, photo, head, PERSON, skin, rng)
            shape, colour = body, rng.uniform(0.05, 0.9, 3)
        _paint(ids, photo, shape, kind, colour, rng)


def render_street(seed, index, size=(256, 256)):
    """Frame `index` of the set made with `seed`, at size (H, W): a StreetFrame."""
    height, width = check_size(size)
    aspect = width / height
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    ys = ((np.arange(height) + 0.5) / height)[:, None] * np.ones((1, width))
    xs = np.ones((height, 1)) * ((np.arange(width) + 0.5) / height)[None, :]
    horizon = rng.uniform(0.35, 0.5)
    ids = np.full((height, width), SKY, np.uint8)
    sky = np.array([0.45, 0.65, 0.9]) * rng.uniform(0.7, 1.1)
    photo = sky + 0.25 * (ys[..., None] - horizon)
    photo = np.clip(photo + 0.02 * rng.standard_normal((height, width, 3)), 0, 1)
    _buildings(rng, ids, photo, ys, xs, horizon, aspect)
    _trees(rng, ids, photo, ys, xs, horizon, aspect)
    vanish, half = _ground(rng, ids, photo, ys, xs, horizon, aspect)
    slope = (half[-1, 0] - 0.01) / max(ys[-1, 0] - horizon, 1e-6)
    _objects(rng, ids, photo, ys, xs, horizon, aspect, vanish, slope)
    photo = np.clip(photo * rng.uniform(0.7, 1.2) + 0.02 * rng.standard_normal(photo.shape), 0, 1)
    return StreetFrame((photo * 255 + 0.5).astype(np.uint8), ids)


def street_composite(frame):
    """(H, 2W, 3) uint8: the photo, and the ids in the Cityscapes palette, side by side."""
    return np.concatenate([frame.image, colourise(frame.ids)], axis=1)


class SyntheticStreets(RenderedFrames):
    """n_frames rendered street frames (masks hold class ids), street_000, street_001, ..."""

    PREFIX = "street"

    def __init__(self, n_frames=STREET_FRAMES, size=(256, 256), seed=0, cache_mb=256,
                 palette=CITYSCAPES_19, classes=None):
        if palette is not CITYSCAPES_19 or classes not in (None, 7, 19):
            raise DataError(f"synthetic-streets is drawn in the Cityscapes palette: --classes "
                            f"19 or 7 and no --palette (got {classes} classes"
                            f"{'' if palette is CITYSCAPES_19 else ', a palette file'})")
        self.categories = classes == 7
        super().__init__(n_frames, size, seed, cache_mb)

    def render(self, number):
        frame = render_street(self.seed, number, self.size)
        return frame.image, to_categories(frame.ids) if self.categories else frame.ids


DATASET = Dataset(
    name="synthetic-streets", description="rendered street scenes with exact Cityscapes class ids "
    "(8 of the 19 classes, offline); the first 270 train, the last 30 are held out",
    size=(256, 256), task="multiclass", palette=CITYSCAPES_19, split={"n_train": STREET_TRAIN},
    render=lambda size, cache_mb, **options: SyntheticStreets(size=size or (256, 256), cache_mb=cache_mb,
                                                              **options),
    run_defaults=STREETS_RUN)
