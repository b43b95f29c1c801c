"""synthetic-people: people on varied backgrounds, rendered on the fly, with exact masks (offline).

    frames = SyntheticPeople(size=(256, 256))       # 440 frames: people_000 ... people_439
    images, masks = frames.read([0, 1])               # rendered now, kept under the cache budget
    frame = render_people(seed=0, index=7, size=(256, 256))   # .image, .mask, .alpha, ...

Every frame is a scene of its own, drawn from np.random.SeedSequence([seed, index]): one person
(70%) or two, each of a random size (0.45 to 3 frame heights, log-uniform: from a small full
figure to a head and shoulders filling the frame and cut by its edges), place, pose (relaxed,
or any arm and leg angles), lean, build, skin tone, clothes (sleeves, a dress, long hair) and
light direction; on one of five backgrounds (a linear gradient, a studio backdrop, a smooth
texture, stripes or checks, an outdoor horizon) under 0-10 clutter shapes (boxes, soft discs,
poles, and skin-coloured blobs, so that skin alone does not mean person); then a photo's
lighting: brightness, colour cast, a light gradient, vignetting, contrast, gamma, sensor noise.
Over 100 frames at 64x64 the people cover 6% / 26% / 46% of the pixels (10th / 50th / 90th
percentile; human-seg-290: 8% / 31% / 56%) and the mean brightness is 0.23 / 0.43 / 0.65
(human-seg-290: 0.30 / 0.44 / 0.64).

The figure is synthetic's dancer (npcae.data.drawing.skeleton, capsules, cylinder shading), drawn
with analytic antialiasing instead of supersampling: each capsule covers a pixel by
clip(0.5 - signed distance in pixels, 0, 1), and the people are one layer composited over the
background, alpha = 1 - prod(1 - capsule coverage). The mask is alpha >= 0.5 (at least half a
pixel's light comes from people), and where alpha is 0 the image is exactly the background's
(render_people(..., people=False) draws the same frame without them); tests check both.

Scenes do not depend on the size (positions are in units of the frame height), so a frame at
64x64 is the same scene as at 256x256. The split of the named set is by order: the first 400
frames train, the last 40 are held out.
"""
from collections import namedtuple

import numpy as np

from ..dataset import Dataset
from ..drawing import noise_field, skeleton
from ..frames import DEFAULT_CACHE_MB, RenderedFrames, check_size

PEOPLE_FRAMES, PEOPLE_TRAIN = 440, 400
PEOPLE_SIZE = (128, 128)         # the default training size, as human-seg-290's
FIGURE_HEIGHT = 0.65      # head top to soles of the figure standing with arms down (height units)
HEAD_TOP = 0.305          # and from the head's top down to its hip
BACKGROUNDS = ("gradient", "studio", "texture", "stripes", "outdoor")

PeopleFrame = namedtuple("PeopleFrame", "image mask alpha n_people background")
# image (H, W, 3) uint8; mask (H, W) uint8 0/1 = alpha >= 0.5; alpha (H, W) float32 in [0, 1].


def _hsv(h, s, v):
    """One RGB colour (float32) from hue, saturation, value in [0, 1]."""
    k = (np.array([5.0, 3.0, 1.0]) + h * 6) % 6
    return (v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1)).astype(np.float32)


def _any_colour(rng, v=(0.1, 0.95), s=(0.0, 0.9)):
    return _hsv(rng.uniform(), rng.uniform(*s), rng.uniform(*v))


def _coverage(signed_distance, px, soft=1.0):
    """A shape's share of each pixel from its signed distance (height units; < 0 inside)."""
    return np.clip(0.5 - signed_distance * px / soft, 0, 1)


def _window(ys, xs, lo, hi):
    """Row and column slices of the pixels whose centres lie in the box lo..hi (x, y)."""
    return (slice(*np.searchsorted(ys, [lo[1], hi[1]])), slice(*np.searchsorted(xs, [lo[0], hi[0]])))


# -- backgrounds ------------------------------------------------------------------------------

def _background(rng, ys, xs, aspect):
    """(kind, image (h, w, 3)) of one random background kind, without clutter."""
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    Y, X = ys[:, None, None], xs[None, :, None]
    c0, c1 = _any_colour(rng), _any_colour(rng)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = (X - aspect / 2) * np.cos(angle) + (Y - 0.5) * np.sin(angle)
        img = c0 + (c1 - c0) * np.clip(0.5 + t / max(aspect, 1), 0, 1)
    elif kind == "studio":                      # a lit backdrop, darker towards its edges
        centre = rng.uniform([0.2 * aspect, 0.1], [0.8 * aspect, 0.6])
        r2 = ((X - centre[0]) ** 2 + (Y - centre[1]) ** 2) / max(aspect, 1) ** 2
        img = _hsv(rng.uniform(), rng.uniform(0, 0.4), rng.uniform(0.35, 0.95)) * (1 - rng.uniform(0.3, 0.9) * r2)
    elif kind == "texture":                     # foliage, a blurred crowd, a wall: smooth blobs
        cells = int(rng.integers(3, 24))
        field = noise_field(rng, cells, aspect)(ys, xs) + 0.5 * noise_field(rng, 3 * cells, aspect)(ys, xs)
        c2 = _any_colour(rng)
        t = np.clip(0.5 + field / 2, 0, 1)[..., None]
        img = np.where(t < 0.5, c0 + (c1 - c0) * 2 * t, c1 + (c2 - c1) * (2 * t - 1))
    elif kind == "stripes":                     # stripes or checks with soft edges
        angle, freq = rng.uniform(0, np.pi), rng.uniform(3, 30)
        u = (X * np.cos(angle) + Y * np.sin(angle)) * freq
        wave = np.sin(2 * np.pi * u)
        if rng.uniform() < 0.5:
            wave = wave * np.sin(2 * np.pi * (-X * np.sin(angle) + Y * np.cos(angle)) * freq)
        img = c0 + (c1 - c0) * np.clip(0.5 + 2 * wave, 0, 1)
    else:                                       # outdoors: sky over the ground, a wavy horizon
        horizon = rng.uniform(0.25, 0.8) + 0.06 * noise_field(rng, 4, aspect)(np.zeros(1), xs)[0][None, :, None]
        sky = _hsv(rng.uniform(0.5, 0.7), rng.uniform(0.1, 0.6), rng.uniform(0.6, 1.0))
        sky = sky * (0.85 + 0.3 * Y)
        ground_tex = noise_field(rng, int(rng.integers(8, 40)), aspect)(ys, xs)[..., None]
        ground = c0 * (0.8 + 0.2 * ground_tex) * (0.7 + 0.4 * Y)
        img = np.where(Y < horizon, sky, ground)
    return kind, np.clip(np.broadcast_to(img, (len(ys), len(xs), 3)), 0, 1).astype(np.float32)


def _clutter(rng, img, ys, xs, aspect, px):
    """Paint 0-10 shapes over the background: boxes, soft discs, poles, skin-coloured blobs."""
    for _ in range(int(rng.integers(0, 11))):
        shape = rng.choice(["box", "disc", "pole", "skin"], p=[0.35, 0.3, 0.2, 0.15])
        centre = rng.uniform([0, 0], [aspect, 1])
        colour = _skin(rng) if shape == "skin" else _any_colour(rng)
        if shape == "box":
            half = rng.uniform(0.02, 0.35, 2)
            rows, cols = _window(ys, xs, centre - half - 0.01, centre + half + 0.01)
            d = np.maximum(np.abs(xs[None, cols] - centre[0]) - half[0], np.abs(ys[rows, None] - centre[1]) - half[1])
            cover, opacity = _coverage(d, px), 1.0
        else:
            a = centre
            if shape == "pole":
                b, r = a + rng.uniform(0.2, 0.9) * np.array([rng.uniform(-0.3, 0.3), 1]), rng.uniform(0.004, 0.03)
            elif shape == "skin":       # a limb-like or round blob that is not a person
                b, r = a + rng.uniform(-0.12, 0.12, 2), rng.uniform(0.015, 0.06)
            else:
                b, r = a, rng.uniform(0.01, 0.12)
            soft = rng.uniform(1, 6) if shape == "disc" else 1.0
            lo, hi = np.minimum(a, b) - r - 0.02, np.maximum(a, b) + r + 0.02
            rows, cols = _window(ys, xs, lo, hi)
            d = _capsule_distance(ys[rows, None], xs[None, cols], a, b, r, r)[0]
            cover, opacity = _coverage(d, px, soft), (rng.uniform(0.3, 0.9) if shape == "disc" else 1.0)
        alpha = (opacity * cover)[..., None]
        img[rows, cols] = img[rows, cols] * (1 - alpha) + colour * alpha


# -- people -----------------------------------------------------------------------------------

def _skin(rng):
    """A skin tone between deep brown and pale, jittered."""
    dark, light = np.array([0.30, 0.18, 0.12]), np.array([0.96, 0.80, 0.70])
    return np.clip(dark + (light - dark) * rng.uniform() + rng.uniform(-0.03, 0.03, 3), 0, 1)


def _look(rng):
    """Colours and clothes of one person."""
    hair = [(0.08, 0.06, 0.05), (0.25, 0.15, 0.09), (0.45, 0.30, 0.18), (0.85, 0.70, 0.45),
            (0.70, 0.70, 0.70), (0.55, 0.20, 0.10)][rng.integers(6)]
    if rng.uniform() < 0.1:
        hair = _any_colour(rng, s=(0.5, 1))                         # dyed
    pants = _any_colour(rng, v=(0.08, 0.7)) if rng.uniform() < 0.6 else _hsv(0.6, 0.5, rng.uniform(0.2, 0.5))
    return dict(skin=_skin(rng), top=_any_colour(rng), pants=pants, shoes=_any_colour(rng, v=(0.05, 0.95)),
                hair=np.clip(np.array(hair) + rng.uniform(-0.03, 0.03, 3), 0, 1),
                sleeves=rng.uniform() < 0.5, long_hair=rng.uniform() < 0.45, dress=rng.uniform() < 0.2,
                build=rng.uniform(0.85, 1.35))


def _angles(rng):
    """A pose for skeleton(): relaxed (arms down, legs straight) 35% of the time, else any."""
    if rng.uniform() < 0.35:
        arm, elbow, hip, knee = (0.05, 0.35), (0.0, 0.4), (0.0, 0.12), (0.0, 0.15)
    else:
        arm, elbow, hip, knee = (-0.3, 2.9), (-0.2, 2.0), (-0.1, 0.6), (0.0, 1.3)
    angles = {f"{side}_{joint}": rng.uniform(*limits) for side in "lr"
              for joint, limits in (("sh", arm), ("el", elbow), ("hip", hip), ("knee", knee))}
    angles["lean"] = rng.uniform(-0.25, 0.25)
    return angles


def _person_parts(j, look):
    """Capsules back to front: (start, end, start radius, end radius, colour, keep), unit figure.

    keep: draw only where the offset below the axis is under keep x radius (1: all; the fringe,
    -0.35, keeps a cap of the hair above the face).
    """
    b, skin, top, pants = look["build"], look["skin"], look["top"], look["pants"]
    up = j["neck"] - j["chest"]
    parts = []
    if look["long_hair"]:
        parts.append((j["head"], j["chest"] + 0.2 * up, 0.040, 0.046, look["hair"], 1))
    for key, side in (("l", 1), ("r", -1)):
        parts += [(j[key + "_hp"], j[key + "_kn"], 0.036 * b, 0.027 * b, pants, 1),
                  (j[key + "_kn"], j[key + "_an"], 0.027 * b, 0.020 * b, pants, 1),
                  (j[key + "_an"], j[key + "_an"] + [0.024 * side, 0.006], 0.013, 0.012, look["shoes"], 1)]
    parts += [(j["l_hp"], j["r_hp"], 0.027 * b, 0.027 * b, pants, 1),
              (j["hip"], j["waist"], 0.036 * b, 0.031 * b, pants, 1)]
    if look["dress"]:
        knees = 0.5 * (j["l_kn"] + j["r_kn"])
        parts.append((j["waist"], j["hip"] + 0.8 * (knees - j["hip"]), 0.034 * b, 0.075 * b, top, 1))
    parts += [(j["neck"], j["chest"], 0.013, 0.013, skin, 1),
              (j["waist"], j["chest"], 0.033 * b, 0.041 * b, top, 1),
              (j["l_sh"], j["r_sh"], 0.018 * b, 0.018 * b, top, 1)]
    for key in ("l", "r"):
        parts += [(j[key + "_sh"], j[key + "_el"], 0.021 * b, 0.017 * b, top if look["sleeves"] else skin, 1),
                  (j[key + "_el"], j[key + "_wr"], 0.017 * b, 0.013 * b, top if look["sleeves"] else skin, 1),
                  (j[key + "_wr"], j[key + "_wr"], 0.016, 0.016, skin, 1)]
    parts += [(j["head"] + 0.1 * up, j["head"] + 0.1 * up, 0.041, 0.041, look["hair"], 1),
              (j["head"] - 0.1 * up, j["head"] - 0.1 * up, 0.036, 0.036, skin, 1),
              (j["head"] + 0.1 * up, j["head"] + 0.1 * up, 0.041, 0.041, look["hair"], -0.35)]
    return parts


def _capsule_distance(Y, X, a, b, r0, r1):
    """(signed distance to a tapered capsule a-b, its radius, offsets dx, dy) at points (Y, X).

    a, b: (x, y) and r0, r1 as Python floats, so float32 grids stay float32."""
    (ax, ay), (vx, vy) = a, (b[0] - a[0], b[1] - a[1])
    t = np.clip(((X - ax) * vx + (Y - ay) * vy) * (1 / (vx * vx + vy * vy + 1e-12)), 0, 1)
    dx, dy = X - ax - t * vx, Y - ay - t * vy
    radius = r0 + (r1 - r0) * t
    return np.sqrt(dx * dx + dy * dy) - radius, radius, dx, dy


def _paint_capsule(P, A, ys, xs, part, noise, light, px):
    """Composite one shaded capsule over the people layer: premultiplied colour P (h, w, 3) and
    alpha A (h, w), both updated in place as P = P (1 - a) + colour a, A = A (1 - a) + a."""
    a, b, r0, r1, colour, keep = part
    r = max(r0, r1) + 1 / px
    rows, cols = _window(ys, xs, (min(a[0], b[0]) - r, min(a[1], b[1]) - r), (max(a[0], b[0]) + r, max(a[1], b[1]) + r))
    if rows.start == rows.stop or cols.start == cols.stop:
        return
    d, radius, dx, dy = _capsule_distance(ys[rows, None], xs[None, cols], a, b, r0, r1)
    alpha = _coverage(d, px)
    if keep < 1:
        alpha = alpha * _coverage(dy - keep * radius, px)
    nx, ny = dx / radius, dy / radius
    nz = np.sqrt(np.clip(1 - nx * nx - ny * ny, 0, 1))
    shade = 0.35 + 0.75 * np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    paint = colour * (shade * (1 + 0.08 * noise[rows, cols]))[..., None]
    alpha3 = alpha[..., None]
    P[rows, cols] = P[rows, cols] * (1 - alpha3) + paint * alpha3
    A[rows, cols] = A[rows, cols] * (1 - alpha) + alpha


def _place(rng, aspect):
    """(scale, hip position) of one person: height 0.45-3 frame heights (log-uniform)."""
    height = np.exp(rng.uniform(np.log(0.45), np.log(3.0)))
    top = rng.uniform(-0.05, max(0.1, 0.98 - height))           # where the head's top is
    hip = np.array([rng.uniform(0.1, 0.9) * aspect, top + HEAD_TOP / FIGURE_HEIGHT * height])
    return height / FIGURE_HEIGHT, hip


def _people_layer(rng, ys, xs, aspect, noise, px):
    """(P premultiplied colours (h, w, 3), A alpha (h, w), number of people), float32."""
    n_people = 1 if rng.uniform() < 0.7 else 2
    people = []
    for _ in range(n_people):
        scale, hip = _place(rng, aspect)
        joints = skeleton(_angles(rng), np.zeros(2))
        look = _look(rng)
        people.append((scale, hip, joints, look))
    tilt = rng.uniform(-0.7, 0.7, 2) * [1, 0.6] - [0, 0.3]
    light = (np.append(tilt, 0.7) / np.linalg.norm(np.append(tilt, 0.7))).tolist()
    P, A = np.zeros((len(ys), len(xs), 3), np.float32), np.zeros((len(ys), len(xs)), np.float32)
    for scale, hip, joints, look in sorted(people, key=lambda p: p[0]):     # the nearer (larger) last
        for a, b, r0, r1, colour, keep in _person_parts(joints, look):
            part = ((hip + scale * a).tolist(), (hip + scale * b).tolist(), float(scale * r0), float(scale * r1),
                    colour.astype(np.float32), keep)
            _paint_capsule(P, A, ys, xs, part, noise, light, px)
    return P, A, n_people


# -- lighting and the frame -------------------------------------------------------------------

TONE_LEVELS = 1024         # the tone curve is a table over [0, 2) in steps of 1/1024


def _lighting(rng, img, ys, xs, aspect):
    """A photo's exposure over the whole frame: gain and colour cast, a light gradient and
    vignetting, contrast and gamma (one table lookup), then sensor noise; uint8 (H, W, 3)."""
    angle, strength = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.35)
    vignette = rng.uniform(0, 0.5)
    # 1 + slope - vignette, both separable in rows and columns: one outer sum.
    across = strength * np.cos(angle) * (xs / aspect - 0.5) - vignette * ((xs - aspect / 2) / max(aspect, 1)) ** 2
    down = 1 + strength * np.sin(angle) * (ys - 0.5) - vignette * (ys - 0.5) ** 2
    light = down[:, None] + across[None, :]
    gain = (rng.uniform(0.7, 1.4) * rng.uniform(0.85, 1.15, 3) * TONE_LEVELS).astype(np.float32)
    contrast, gamma = rng.uniform(0.75, 1.35), rng.uniform(0.7, 1.25)
    levels = (np.arange(2 * TONE_LEVELS) + 0.5) / TONE_LEVELS
    tone = (np.clip((levels - 0.5) * contrast + 0.5, 0, 1) ** gamma * 255 + 0.5).astype(np.float32)
    index = np.clip(img * light[..., None] * gain, 0, 2 * TONE_LEVELS - 1).astype(np.int32)
    # Sensor noise, uniform with standard deviation `sigma` (a fifth of the time of a normal draw).
    sigma = rng.uniform(0, 0.03) * 255
    out = tone[index] + (rng.random(img.shape, dtype=np.float32) - np.float32(0.5)) * np.float32(sigma * 12 ** 0.5)
    return np.clip(out, 0, 255).astype(np.uint8)


def render_people(seed, index, size=PEOPLE_SIZE, people=True):
    """Frame `index` of the set made with `seed`, at size (H, W): a PeopleFrame.

    people=False draws the same frame (background, clutter, lighting, noise) without the people.
    """
    height, width = check_size(size)
    aspect, px = width / height, float(height)
    scene, crowd, camera = (np.random.default_rng(s) for s in np.random.SeedSequence([seed, index]).spawn(3))
    ys = ((np.arange(height) + 0.5) / height).astype(np.float32)
    xs = ((np.arange(width) + 0.5) / height).astype(np.float32)
    kind, img = _background(scene, ys, xs, aspect)
    _clutter(scene, img, ys, xs, aspect, px)
    noise = noise_field(crowd, 60, aspect)(ys, xs).astype(np.float32)
    P, A, n_people = _people_layer(crowd, ys, xs, aspect, noise, px)
    if people:
        img = img * (1 - A)[..., None] + P
    else:
        A, n_people = np.zeros_like(A), 0
    image = _lighting(camera, img, ys, xs, aspect)
    return PeopleFrame(image, (A >= 0.5).astype(np.uint8), A, n_people, kind)


class SyntheticPeople(RenderedFrames):
    """n_frames rendered people frames (npcae.data.frames.Frames), people_000, people_001, ...

    Each frame is rendered by render_people(seed, its number, size) when first read, and kept
    while the whole set fits in cache_mb (CachedFrames): 440 frames at 256x256 take 110 MB.
    """

    PREFIX = "people"

    def __init__(self, n_frames=PEOPLE_FRAMES, size=PEOPLE_SIZE, seed=0, cache_mb=DEFAULT_CACHE_MB):
        super().__init__(n_frames, size, seed, cache_mb)

    def render(self, number):
        frame = render_people(self.seed, number, self.size)
        return frame.image, frame.mask


DATASET = Dataset(
    name="synthetic-people", description="440 rendered photos of one or two people on varied backgrounds, "
    "exact masks (offline); the first 400 train, the last 40 are held out", size=PEOPLE_SIZE,
    split={"n_train": PEOPLE_TRAIN},
    render=lambda size, cache_mb, **_: SyntheticPeople(size=size or PEOPLE_SIZE, cache_mb=cache_mb))
