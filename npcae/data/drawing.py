"""What the rendered people are drawn with: a smooth noise field for textures, and the skeleton
that synthetic's dancer and synthetic-people's figures are posed by.

Coordinates are in units of the frame height (x right, y down), as in every renderer of
npcae.data.sets, so a scene does not depend on the size it is drawn at.
"""
import numpy as np


def noise_field(rng, cells, aspect):
    """A smooth random field in [-1, 1] over the frame (height units), `cells` bumps per unit.

    Returns f(ys, xs) -> (len(ys), len(xs)); drawn once, so any crop of the frame agrees.
    """
    grid = rng.uniform(-1, 1, (cells + 3, int(cells * aspect) + 3))

    def field(ys, xs):
        gy, gx = ys * cells, xs * cells
        y0, x0 = np.floor(gy).astype(int), np.floor(gx).astype(int)
        fy, fx = (gy - y0)[:, None], (gx - x0)[None, :]
        fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)  # smoothstep: no visible grid
        top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
        bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
        return top * (1 - fy) + bottom * fy

    return field


def skeleton(angles, hip):
    """Joint positions (x, y in height units) of a figure of height ~0.64 facing the camera.

    angles (radians, from straight down): l_sh/r_sh upper arms, l_el/r_el elbow bends,
    l_hip/r_hip thighs, l_knee/r_knee knee bends, lean of the trunk; hip: the pelvis centre.
    """
    def limb(start, side, first, bend, l1, l2):
        # Angles are measured from straight down; `side` mirrors the figure's two halves.
        d1 = np.array([side * np.sin(first), np.cos(first)])
        mid = start + l1 * d1
        d2 = np.array([side * np.sin(first + bend), np.cos(first + bend)])
        return mid, mid + l2 * d2

    lean = angles["lean"]
    up = np.array([np.sin(lean), -np.cos(lean)])
    across = np.array([np.cos(lean), np.sin(lean)])
    waist, chest, neck = hip + 0.09 * up, hip + 0.17 * up, hip + 0.205 * up
    joints = dict(hip=hip, waist=waist, chest=chest, neck=neck, head=neck + 0.055 * up)
    for side, key in ((1, "l"), (-1, "r")):
        sh = chest + side * 0.052 * across
        hp = hip + side * 0.034 * across
        joints[key + "_sh"], joints[key + "_hp"] = sh, hp
        elbow_wrist = limb(sh, side, angles[key + "_sh"], angles[key + "_el"], 0.105, 0.095)
        # Knees bend the other way: the shin swings back towards the body's centre line.
        knee_ankle = limb(hp, side, angles[key + "_hip"], -angles[key + "_knee"], 0.16, 0.155)
        joints[key + "_el"], joints[key + "_wr"] = elbow_wrist
        joints[key + "_kn"], joints[key + "_an"] = knee_ankle
    return joints
