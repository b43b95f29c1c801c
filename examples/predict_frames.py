"""Cut the dancer out of a folder of video frames with a trained model.

    npcae train --out runs/demo                       # or any run folder / weights.npz
    python examples/predict_frames.py runs/demo FRAMES_DIR --out out/cutouts

For every frame it writes NAME_mask.png (white = dancer), NAME_overlay.png (the mask tinted over
the frame) and NAME_cutout.png (RGBA, the soft mask as alpha), at the frame's own resolution,
and finally a contact sheet of the cut-outs on a checkerboard, so the transparency shows.
Without FRAMES_DIR it predicts the synthetic record's frames.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from npcae.data import save_record, synthetic_record
from npcae.predict import list_images, load_model, predict_files

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("weights", help="a run folder, weights.npz or checkpoint.npz")
parser.add_argument("frames", nargs="?", help="an image or a folder of frames (default: synthetic)")
parser.add_argument("--out", default="out/predict_frames", help="folder for the PNGs")
args = parser.parse_args()

# The model remembers the size it was trained at; every frame is resized to it (area
# interpolation), predicted, and the probability map is resized back to the frame's size.
model, size, task = load_model(args.weights)
print(f"model trained at {size[0]}x{size[1]}")

with tempfile.TemporaryDirectory() as scratch:
    frames = args.frames
    if frames is None:  # render the synthetic frames at twice the training size, as PNG files
        frames = save_record(synthetic_record(size=(2 * size[0], 2 * size[1])), scratch) / "images"
    files = list_images([frames])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = predict_files(model, size, files, out, task)

# A contact sheet: each cut-out composited over a grey checkerboard.
tiles = []
for name in names:
    cutout = np.asarray(Image.open(out / f"{name}_cutout.png"), np.float32) / 255
    h, w = cutout.shape[:2]
    board = 0.55 + 0.25 * ((np.arange(h)[:, None] // 8 + np.arange(w)[None, :] // 8) % 2)
    alpha = cutout[..., 3:]
    tiles.append(alpha * cutout[..., :3] + (1 - alpha) * board[..., None])
sheet = np.concatenate([t for t in tiles if t.shape == tiles[0].shape], axis=1)
Image.fromarray((sheet * 255).round().astype(np.uint8)).save(out / "contact_sheet.png")
print(f"wrote {len(names)} masks, overlays and cut-outs, and contact_sheet.png, to {out}")
