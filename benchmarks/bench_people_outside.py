"""Person models on photos from outside their training set, each figure at the photos' own size.

    python -m benchmarks.bench_people_outside RUN_DIR [RUN_DIR ...] \\
        --coco ../shared/data/coco-tiny/annotations/instances_val2017.json --human-seg

The figures issue 24 asks of a person model, for each trained run (a folder of `npcae train`):
the mean per-photo IoU on the COCO file's photos with people (never trained on: give the split
the run held out), crowd regions left out of the score as COCO's evaluation leaves them, and
with --human-seg the IoU on human-seg-290's 40 held-out photos (pooled over their pixels, as
the README's figures, and per photo). Every score is taken at the photo's own size, as `npcae
predict` delivers a mask (npcae evaluate --resolution own): the model at its trained size, its
output resized back. Each with and without test-time flipping (--tta flip), whose cost is the
time of the evaluation beside. Epochs and minutes of training come from the run's history.csv.
"""
import argparse
import csv
import math
import time
from pathlib import Path

from .common import RESULTS, markdown_table, write_results


def scores(run_dir, data, tta, **options):
    """(pooled IoU, mean per-image IoU, photos, seconds) of the run on `data` at own sizes."""
    from npcae.train.evaluation import evaluate_saved
    start = time.perf_counter()
    _, total, per_image = evaluate_saved(run_dir, data, tta=tta, resolution="own", **options)
    seconds = time.perf_counter() - start
    mean = math.fsum(v["iou"] for v in per_image.values()) / len(per_image)
    return total.result()["iou"], mean, len(per_image), seconds


def describe(run_dir, coco, human_seg):
    history = list(csv.DictReader(open(Path(run_dir) / "history.csv")))
    row = {"run": Path(run_dir).name, "epochs": len(history),
           "train_min": sum(float(r["seconds"]) for r in history) / 60}
    for tta, suffix in ((None, ""), ("flip", "_tta")):
        if coco:
            _, row[f"coco{suffix}"], row["coco_photos"], row[f"coco_s{suffix}"] = scores(
                run_dir, f"coco:{coco}", tta, category="person", crowd="ignore")
        if human_seg:
            row[f"hs{suffix}"], row[f"hs_per_image{suffix}"], _, _ = scores(
                run_dir, "human-seg-290", tta, held_out=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--coco", help="the held-out COCO instances file")
    parser.add_argument("--human-seg", action="store_true",
                        help="human-seg-290's 40 held-out photos (found as npcae finds it: "
                             "NPCAE_DATA)")
    parser.add_argument("--out", default=None,
                        help="folder for JSON and Markdown (default benchmarks/results)")
    args = parser.parse_args(argv)
    if not args.coco and not args.human_seg:
        parser.error("give --coco FILE, --human-seg or both")
    coco = Path(args.coco).resolve() if args.coco else None
    rows = []
    for run in args.runs:
        rows.append(describe(run, coco, args.human_seg))
        print("; ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in rows[-1].items()), flush=True)
    columns = [("run", "run", "{}"), ("epochs", "epochs", "{}"),
               ("train_min", "training min", "{:.1f}")]
    if coco:
        columns += [("coco", "COCO IoU per photo", "{:.3f}"),
                    ("coco_tta", "with --tta flip", "{:.3f}"),
                    ("coco_s", "s", "{:.1f}"), ("coco_s_tta", "s, flip", "{:.1f}")]
    if args.human_seg:
        columns += [("hs", "human-seg IoU", "{:.3f}"), ("hs_tta", "with --tta flip", "{:.3f}"),
                    ("hs_per_image", "per photo", "{:.3f}")]
    note = ("\n\nEvery score at the photos' own size (the model at its trained size, its output "
            "resized back, as npcae predict delivers it). COCO: mean IoU per photo over "
            f"{rows[0].get('coco_photos', 0)} photos with people of {coco.name if coco else '-'}, "
            "crowd regions left out. human-seg-290: its 40 held-out photos, IoU pooled over their "
            "pixels (and per photo). 's': seconds of the evaluation, with and without flipping.\n")
    json_path, md_path = write_results("bench_people_outside", rows,
                                       markdown_table(columns, rows) + note,
                                       args.out or RESULTS, {"coco": str(coco)})
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
