"""synthetic: a deterministic stand-in for the TikTok frames, one dancer in a room (offline).

Each frame is rendered with numpy coordinate grids at `SUPERSAMPLE`x the output size and
box-averaged down, so figure edges are antialiased like a real photo; the mask is the same
figure's coverage (>= 0.5 of a pixel), so image and mask agree exactly.
Coordinates are in units of the frame height (x right, y down), so the figure keeps its
proportions at any (H, W); at height = 2 x width it covers about 10% of the pixels.
"""
import numpy as np

from ..dataset import Dataset
from ..drawing import noise_field, skeleton
from ..frames import DataError, Record, check_size, is_count

SYNTHETIC_TRAIN = ("synth_00", "synth_04", "synth_09")
SUPERSAMPLE = 3
BODY_SCALE = 0.9  # figure height ~0.58 of the frame, like the real dancer
LIMB_WIDTH = 1.4  # thick strokes: an upper arm is ~5 px wide at 128x64, ~10 px at 256x128
SWING = 0.8  # dance cycles over the record: neighbouring frames differ slightly
LIGHT = np.array([-0.45, -0.55, 0.70]) / np.linalg.norm([-0.45, -0.55, 0.70])
# Wall paints; none is close to SKIN, or the bare arms would be invisible even to a person.
WALLS = ((0.86, 0.70, 0.22), (0.70, 0.74, 0.76), (0.55, 0.66, 0.72), (0.52, 0.64, 0.50))


def _room(rng, ys, xs, width):
    """The static background (h, w, 3): textured wall, wooden ceiling, door, tiled floor."""
    Y, X = ys[:, None], xs[None, :]
    wall = np.array(WALLS[rng.integers(len(WALLS))])
    floor_y, eye_y = 0.70, 0.42
    noise = noise_field(rng, 14, width)(ys, xs)
    light = 1.05 - 0.25 * np.abs(X - 0.6 * width) / width - 0.15 * Y  # soft lamp, upper right
    img = wall * (1 + 0.05 * noise + 0.02 * np.sin(X * 260))[..., None] * light[..., None]
    # Dark wooden ceiling beam with plank lines, like the eaves over the real scene.
    beam = Y < 0.11
    planks = 0.30 + 0.05 * np.sin(Y * 900) * np.sin(X * 8 + 2) + 0.04 * noise
    img = np.where(beam[..., None], np.array([0.42, 0.27, 0.16]) * planks[..., None] / 0.3, img)
    img = np.where(((Y > 0.11) & (Y < 0.125))[..., None], np.array([0.20, 0.13, 0.09]), img)
    # A door at one side: a slightly different panel with a darker frame.
    door_x = min(0.09, 0.3 * width)
    door = (X < door_x) & (Y > 0.34) & (Y < floor_y)
    img = np.where(door[..., None], np.array([0.52, 0.45, 0.38]) * (1 + 0.04 * noise)[..., None], img)
    frame = (np.abs(X - door_x) < 0.006) & (Y > 0.33) & (Y < floor_y)
    img = np.where(frame[..., None], 0.3, img)
    # Floor tiles seen in perspective: depth ~ 1 / (y - eye level).
    depth = 1.0 / np.maximum(Y - eye_y, 1e-3)
    u, v = (X - 0.5 * width) * depth * 1.6, depth * 0.9
    grout = (np.abs(u - np.round(u)) < 0.01 * depth) | (np.abs(v - np.round(v)) < 0.003 * depth ** 2)
    checker = (np.floor(u) + np.floor(v)) % 2
    tile = np.array([0.80, 0.62, 0.48]) * (0.92 + 0.06 * checker + 0.05 * noise)[..., None]
    tile = np.where(grout[..., None], tile * 0.8, tile)
    tile = tile * (0.75 + 0.35 * (Y - floor_y) / (1 - floor_y))[..., None]  # brighter towards the camera
    img = np.where((Y >= floor_y)[..., None], tile, img)
    img = np.where((np.abs(Y - floor_y) < 0.006)[..., None], np.array([0.35, 0.28, 0.22]), img)  # skirting
    return img, floor_y


def _pose(k, n_frames, phase, cx):
    """Joint positions for frame k: limbs swing smoothly with the frame index, body sways."""
    a = 2 * np.pi * (k / max(n_frames, 1)) * SWING + phase
    angles = dict(
        l_sh=0.35 + 0.95 * (0.5 + 0.5 * np.sin(a)), l_el=0.2 + 0.9 * (0.5 + 0.5 * np.cos(a * 1.7)),
        r_sh=0.30 + 1.05 * (0.5 + 0.5 * np.sin(a + 2.2)), r_el=0.3 + 0.7 * (0.5 + 0.5 * np.sin(a * 1.3)),
        l_hip=0.08 + 0.12 * np.sin(a + 1.0), l_knee=0.25 * (0.5 + 0.5 * np.sin(a * 2.0)),
        r_hip=0.10 + 0.10 * np.cos(a), r_knee=0.25 * (0.5 + 0.5 * np.cos(a * 2.0 + 0.5)),
        lean=0.06 * np.sin(a * 0.8))
    hip = np.array([cx + 0.03 * np.sin(a * 0.7), 0.55])
    return skeleton(angles, hip)


def _parts(j, colours, scale):
    """Body parts back to front: (start, end, start radius, end radius, colour, panel, keep).

    panel: colour of a side stripe along the part (or None); keep: draw only where the
    normalised vertical offset is below it (1 keeps the whole capsule, a negative value a top cap).
    """
    skin, top, pants, shoes, hair = colours
    w = LIMB_WIDTH
    up = j["neck"] - j["chest"]
    parts = [(j["head"], j["chest"] + 0.2 * up, 0.040, 0.044, hair, None, 1)]  # long hair behind
    for key, side in (("l", 1), ("r", -1)):
        parts += [(j[key + "_hp"], j[key + "_kn"], 0.026 * w, 0.019 * w, pants, pants * 2.2, 1),
                  (j[key + "_kn"], j[key + "_an"], 0.019 * w, 0.014 * w, pants, pants * 2.2, 1),
                  (j[key + "_an"], j[key + "_an"] + [0.024 * side, 0.006], 0.013, 0.012, shoes, None, 1)]
    parts += [(j["l_hp"], j["r_hp"], 0.027, 0.027, pants, None, 1),
              (j["hip"], j["waist"], 0.036, 0.031, pants, None, 1),
              (j["waist"], j["chest"], 0.032, 0.040, skin, None, 1),
              (j["neck"], j["chest"], 0.013, 0.013, skin, None, 1),
              (j["waist"] + (j["chest"] - j["waist"]) * 0.4, j["chest"], 0.035, 0.041, top, None, 1),
              (j["l_sh"], j["r_sh"], 0.017, 0.017, top, None, 1)]
    for key in ("l", "r"):
        parts += [(j[key + "_sh"], j[key + "_el"], 0.016 * w, 0.013 * w, skin, None, 1),
                  (j[key + "_el"], j[key + "_wr"], 0.013 * w, 0.010 * w, skin, None, 1),
                  (j[key + "_wr"], j[key + "_wr"], 0.013 * w, 0.013 * w, skin, None, 1)]
    parts += [(j["head"] + 0.1 * up, j["head"] + 0.1 * up, 0.041, 0.041, hair, None, 1),
              (j["head"] - 0.1 * up, j["head"] - 0.1 * up, 0.036, 0.036, skin, None, 1),
              (j["head"] + 0.1 * up, j["head"] + 0.1 * up, 0.041, 0.041, hair, None, -0.35)]  # fringe
    return [(a, b, r0 * scale, r1 * scale, c, panel, keep) for a, b, r0, r1, c, panel, keep in parts]


def _draw(img, cover, ys, xs, part, noise):
    """Paint one tapered capsule into img (h, w, 3) and cover (h, w), with cylinder shading."""
    a, b, r0, r1, colour, panel, keep = part
    r = max(r0, r1)
    rows = slice(*np.searchsorted(ys, [min(a[1], b[1]) - r, max(a[1], b[1]) + r]))
    cols = slice(*np.searchsorted(xs, [min(a[0], b[0]) - r, max(a[0], b[0]) + r]))
    Y, X = ys[rows, None], xs[None, cols]
    v = b - a
    t = np.clip(((X - a[0]) * v[0] + (Y - a[1]) * v[1]) / (v @ v + 1e-12), 0, 1)
    dx, dy = X - a[0] - t * v[0], Y - a[1] - t * v[1]
    radius = r0 + (r1 - r0) * t
    nx, ny = dx / radius, dy / radius
    inside = (nx * nx + ny * ny < 1) & (ny < keep)
    nz = np.sqrt(np.clip(1 - nx * nx - ny * ny, 0, 1))
    shade = 0.35 + 0.75 * np.clip(nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2], 0, 1)
    base = np.broadcast_to(colour, nx.shape + (3,))
    if panel is not None:  # a lighter side stripe, like the panels on the real leggings
        across = (dx * v[1] - dy * v[0]) / (np.sqrt(v @ v) + 1e-12) / radius
        base = np.where(((across > 0.25) & (across < 0.75))[..., None], np.minimum(panel, 1), base)
    paint = base * (shade * (1 + 0.08 * noise[rows, cols]))[..., None]
    img[rows, cols] = np.where(inside[..., None], paint, img[rows, cols])
    cover[rows, cols] |= inside


def _colours(rng):
    """Skin, top, pants, shoes, hair: randomised per seed around plausible clothing colours."""
    jitter = lambda c, s=0.06: np.clip(np.array(c) + rng.uniform(-s, s, 3), 0, 1)
    skin = jitter((0.86, 0.66, 0.55), 0.04)
    tops = [(0.72, 0.48, 0.60), (0.30, 0.45, 0.70), (0.85, 0.85, 0.82), (0.55, 0.70, 0.45)]
    top = jitter(tops[rng.integers(len(tops))])
    hair = jitter([(0.85, 0.70, 0.45), (0.38, 0.24, 0.15), (0.13, 0.10, 0.09)][rng.integers(3)], 0.03)
    return skin, top, jitter((0.12, 0.12, 0.14), 0.03), jitter((0.92, 0.92, 0.92), 0.03), hair


def _grid(start, stop, s, height):
    """Centres of the s x s subpixels of output pixels start..stop-1, in height units."""
    return (np.arange(start * s, stop * s) + 0.5) / (height * s)


def _box_down(array, s):
    """Average s x s blocks: (h*s, w*s, ...) -> (h, w, ...)."""
    # A sum of s*s strided views is much faster than reshape(...).mean(axis=(1, 3)).
    return sum(array[i::s, j::s] for i in range(s) for j in range(s)) / (s * s)


def synthetic_record(n_frames=10, size=(128, 64), seed=0):
    """Render `n_frames` frames of one dancer: images (N, H, W, 3) in [0, 1], masks (N, H, W, 1).

    Names are synth_00, synth_01, ...; the same seed always gives the same arrays.
    Images are quantised to multiples of 1/255, so a save_record/load_folder round trip is exact.
    """
    height, width = check_size(size)
    if not is_count(n_frames):
        raise DataError(f"n_frames must be a positive integer, got {n_frames!r}")
    aspect, s = width / height, SUPERSAMPLE
    rng = np.random.default_rng(seed)
    # The room is static: render it once (2x supersampled) at the output size.
    room, floor_y = _room(rng, _grid(0, height, 2, height), _grid(0, width, 2, height), aspect)
    room = _box_down(room, 2)
    ys, xs = _grid(0, height, 1, height), _grid(0, width, 1, height)
    feet_y = floor_y + 0.17  # where the soles touch the floor, well in front of the wall
    colours = _colours(rng)
    phase, cx = rng.uniform(0, 2 * np.pi), (0.45 + rng.uniform(-0.05, 0.05)) * aspect
    cloth = noise_field(rng, 60, aspect)
    images, masks = [], []
    for k in range(n_frames):
        joints = _pose(k, n_frames, phase, cx)
        hip = joints["hip"]
        joints = {key: hip + BODY_SCALE * (p - hip) for key, p in joints.items()}
        lowest = max(joints["l_an"][1], joints["r_an"][1]) + 0.02 * BODY_SCALE
        joints = {key: p + [0, feet_y - lowest] for key, p in joints.items()}  # stand on the floor
        # Soft contact shadow on the floor around the feet.
        fx = 0.5 * (joints["l_an"][0] + joints["r_an"][0])
        shadow = np.exp(-((xs[None, :] - fx) / 0.09) ** 2 - ((ys[:, None] - feet_y) / 0.02) ** 2)
        img, mask = room * (1 - 0.35 * shadow)[..., None], np.zeros((height, width), bool)
        # Supersample only the figure's bounding box: the rest of the frame is the room.
        parts = _parts(joints, colours, BODY_SCALE)
        ends = np.array([p for part in parts for p in part[:2]])
        r0, c0 = np.maximum(np.floor((ends.min(0)[::-1] - 0.05) * height).astype(int), 0)
        r1, c1 = np.minimum(np.ceil((ends.max(0)[::-1] + 0.05) * height).astype(int), (height, width))
        if r1 > r0 and c1 > c0:
            sub_y, sub_x = _grid(r0, r1, s, height), _grid(c0, c1, s, height)
            paint, cover = np.zeros((len(sub_y), len(sub_x), 3)), np.zeros((len(sub_y), len(sub_x)), bool)
            noise = cloth(sub_y, sub_x)
            for part in parts:
                _draw(paint, cover, sub_y, sub_x, part, noise)
            coverage = _box_down(cover.astype(float), s)
            img[r0:r1, c0:c1] = img[r0:r1, c0:c1] * (1 - coverage)[..., None] + _box_down(paint, s)
            mask[r0:r1, c0:c1] = coverage >= 0.5
        img = img * rng.uniform(0.97, 1.03) + rng.normal(0, 0.012, img.shape)  # flicker, sensor noise
        images.append(np.round(np.clip(img, 0, 1) * 255) / 255)
        masks.append(mask[..., None])
    names = [f"synth_{k:02d}" for k in range(n_frames)]
    return Record(np.stack(images).astype(np.float32), np.stack(masks).astype(np.float32), names)


DATASET = Dataset(
    name="synthetic", description="10 rendered frames of a dancer in a room, exact masks (offline)",
    size=(256, 128), split={"train_names": SYNTHETIC_TRAIN},
    render=lambda size, cache_mb, **_: synthetic_record(size=size) if size else synthetic_record())
