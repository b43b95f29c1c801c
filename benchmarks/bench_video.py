"""Person models on a real clip: `npcae predict --video` on DAVIS 2016's "parkour" (100 frames,
854x480, a mask per frame) as a folder of frames, an MP4 and an animated GIF made from it, with
and without --smooth: frames per second, temporal stability, IoU and dtSSD against the truth.

    python -m benchmarks.bench_video RUN_DIR [RUN_DIR ...] \\
        --clip ../shared/data/video-clips/davis-parkour [--smooth 0.5]

The MP4 (H.264, 24 frames per second, yuv420p) and the GIF (Pillow's 256-colour palette) are
made from the JPEG frames in a temporary folder, so the three inputs hold the same pictures up
to their codecs' losses; the truth masks pair with the frames in sorted order. Every figure is
what the command prints (npcae.predict.video): FPS counts decoding, the model, drawing and
encoding the output MP4, one frame at a time. Needs the [video] extra.
"""
import argparse
import tempfile
from pathlib import Path

from .common import RESULTS, markdown_table, write_results


def make_inputs(clip, folder):
    """{kind: path} of the clip as frames, MP4 and GIF (the last two written into `folder`)."""
    import imageio.v3 as iio
    import numpy as np
    from PIL import Image
    files = sorted((clip / "frames").iterdir())
    frames = [np.asarray(Image.open(path).convert("RGB")) for path in files]
    mp4, gif = folder / "clip.mp4", folder / "clip.gif"
    iio.imwrite(mp4, np.stack(frames), fps=24, codec="libx264", macro_block_size=1)
    pictures = [Image.fromarray(frame) for frame in frames]
    pictures[0].save(gif, save_all=True, append_images=pictures[1:], duration=42, loop=0)
    return {"frames": clip / "frames", "mp4": mp4, "gif": gif}


def predict(run, source, truth, out, smooth):
    from npcae.predict.video import predict_clip
    report = predict_clip(source, run, out, background="white", smooth=smooth, truth=truth)
    return {"fps": report.fps, **report.scores.result()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--clip", required=True, help="a folder with frames/ and masks/")
    parser.add_argument("--smooth", type=float, default=0.5, help="the --smooth to compare (default 0.5)")
    parser.add_argument("--out", default=None, help="folder for JSON and Markdown (default benchmarks/results)")
    args = parser.parse_args(argv)
    clip = Path(args.clip).resolve()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(clip, Path(tmp))
        for run in args.runs:
            from npcae.predict import load_model
            config = load_model(run).model.config
            name = config["builder"] + "".join(f" {k}={v}" for k, v in sorted(config.get("args", {}).items())
                                               if k == "alpha")
            for kind, source in inputs.items():
                for smooth in (None, args.smooth):
                    row = {"model": name, "input": kind, "smooth": smooth or "none",
                           **predict(run, source, clip / "masks", Path(tmp) / "out.mp4", smooth)}
                    rows.append(row)
                    print("; ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in row.items()), flush=True)
    columns = [("model", "model", "{}"), ("input", "input", "{}"), ("smooth", "--smooth", "{}"),
               ("fps", "FPS", "{:.2f}"), ("stability", "stability", "{:.3f}"),
               ("iou", "IoU", "{:.3f}"), ("dtssd", "dtSSD x100", "{:.2f}")]
    note = ("\n\nFPS: frames decoded, segmented at the model's trained size, drawn and encoded "
            "to an MP4, per second of the whole run. Stability: the mean IoU of consecutive "
            "predicted masks (the truth's own is 0.698 on this clip: fast motion). IoU: the mean "
            "over frames against the truth; dtSSD as Robust Video Matting reports it.\n")
    json_path, md_path = write_results("bench_video", rows, markdown_table(columns, rows) + note,
                                       args.out or RESULTS, {"clip": str(clip)})
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
