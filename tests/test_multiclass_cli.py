"""Class ids from the command line: train on synthetic-streets and on a folder of composites,
resume, evaluate, predict, inspect, and the wrong inputs that get one line."""
import json

import numpy as np
import pytest
from PIL import Image

from npcae.cli import main
from npcae.data.sets.synthetic_streets import render_street, street_composite
from test_cli import TINY, error_line, history

SMALL = ["--size", "32x32", "--filters", "4,8", "--epochs", "1", "--batch-size", "4",
         "--no-progress"]


@pytest.fixture(scope="module")
def street_run(tmp_path_factory):
    """One epoch of the U-Net on 12 rendered street frames at 32x32 (class weights auto)."""
    out = tmp_path_factory.mktemp("streets") / "run"
    assert main(["train", "--data", "synthetic-streets", "--n-train", "12", "--class-weights",
                 "auto", "--out", str(out), *SMALL]) == 0
    return out


def test_a_street_run_writes_the_multiclass_figures_and_report(street_run):
    report = json.loads((street_run / "metrics.json").read_text())
    assert 0 <= report["heldout_miou"] <= 1 and 0 <= report["heldout_pixel_accuracy"] <= 1
    assert len(report["heldout_per_image"]) == 288
    for name in ("class_iou.png", "confusion.png", "overlays.png", "miou.png", "accuracy.png",
                 "evolution.png", "weights.npz"):
        assert (street_run / name).stat().st_size > 0, name
    row = history(street_run)[-1]
    assert float(row["heldout_iou_road"]) >= 0 and "heldout_iou_traffic_light" in row


def test_auto_class_weights_are_stored_with_the_run_and_the_model(street_run):
    from npcae.train.checkpoint import read_checkpoint
    run = read_checkpoint(street_run / "checkpoint.npz")["run"]
    weights = run["class_weights"]
    assert len(weights) == 19 and run["task"] == "multiclass" and run["classes"] == 19
    # synthetic-streets draws 8 of the 19 classes; the others never occur and weigh 0.
    assert sum(w > 0 for w in weights) == 8 and weights[6] == 0          # traffic light


def test_a_street_run_resumes(street_run, tmp_path, capsys):
    # "auto" again is no change: the stored weights are what it computed.
    assert main(["train", "--resume", str(street_run), "--epochs", "2", "--class-weights", "auto",
                 "--no-progress"]) == 0
    assert [int(r["epoch"]) for r in history(street_run)] == [1, 2]


def test_evaluate_prints_the_per_class_table(street_run, capsys):
    assert main(["evaluate", "--weights", str(street_run), "--data", "synthetic-streets",
                 "--size", "32x32"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["class", "pixels", "accuracy", "IoU"] and len(out) == 21
    assert out[-1].startswith("300 images") and "mIoU" in out[-1]


def test_predict_writes_ids_colours_and_overlay(street_run, tmp_path):
    photo = tmp_path / "street.png"
    Image.fromarray(render_street(3, 1, (48, 40)).image).save(photo)
    assert main(["predict", str(photo), "--weights", str(street_run), "--out", str(tmp_path / "o")]) == 0
    ids = np.asarray(Image.open(tmp_path / "o" / "street_classes.png"))
    assert ids.shape == (48, 40) and ids.max() < 19
    for kind in ("colour", "overlay"):
        assert Image.open(tmp_path / "o" / f"street_{kind}.png").size == (40, 48)


def test_a_binary_model_is_refused_by_a_multiclass_evaluation(tmp_path, capsys):
    out = tmp_path / "binary"
    assert main(["train", "--epochs", "1", "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(out), "--data", "synthetic-streets"]) == 2
    assert "not classes: a multi-class evaluation of synthetic-streets" in error_line(capsys)


def test_a_multiclass_model_is_refused_by_a_binary_evaluation(street_run, capsys):
    assert main(["evaluate", "--weights", str(street_run), "--data", "synthetic"]) == 2
    assert "multi-class model (19 classes) but synthetic holds binary masks" in error_line(capsys)


def composites(folder, count=6, width_cut=0):
    folder.mkdir(parents=True)
    for i in range(count):
        picture = street_composite(render_street(1, i, (32, 32)))
        Image.fromarray(picture[:, :picture.shape[1] - width_cut]).save(folder / f"{i + 1}.png")
    return folder


@pytest.mark.parametrize("args, message", [
    (["--classes", "5"], "--classes 5 does not match the palette: 19 or 7"),
    (["--palette", "no/such/palette.txt"], "cannot read the palette file"),
    (["--data", "synthetic", "--classes", "19"], "--classes is for multi-class masks, but synthetic holds binary"),
    (["--model", "cae", "--classes", "19"], "--model cae predicts one mask"),
    (["--class-weights", "1,2"], "--class-weights must be 'auto' or 19 numbers, one per class"),
    # issue 21: were divergence (exit 3, a folder holding only the lock), or 0 training on nothing
    (["--class-weights", ",".join(["1"] * 18 + ["inf"])], "--class-weights: class weights must be finite"),
    (["--class-weights", ",".join(["1e308"] * 19)], "--class-weights must be numbers from 0 to 1e+06"),
    (["--class-weights", ",".join(["0"] * 19)], "at least one class a positive weight"),
])
def test_wrong_multiclass_settings_get_one_line(tmp_path, capsys, args, message):
    data = [] if "--data" in args else ["--data", "synthetic-streets"]     # --data twice: a union
    assert main(["train", *data, "--out", str(tmp_path / "run"), *SMALL, *args]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_palette_file_that_does_not_fit_and_an_odd_composite(tmp_path, capsys):
    palette = tmp_path / "palette.txt"
    palette.write_text("road, 128, 64, 128\nsky, 70, 130, 180\nvoid, 0, 0, 0\n")
    folder = composites(tmp_path / "streets")
    assert main(["train", "--data", str(folder), "--palette", str(palette), "--classes", "3",
                 "--out", str(tmp_path / "a"), *SMALL]) == 2
    assert "--classes 3 does not match the palette: 2" in error_line(capsys)
    bad = tmp_path / "bad-palette.txt"
    bad.write_text("road, 128, 64\n")
    assert main(["train", "--data", str(folder), "--palette", str(bad), "--out",
                 str(tmp_path / "b"), *SMALL]) == 2
    assert "bad-palette.txt:1: expected 'name, R, G, B'" in error_line(capsys)
    odd = composites(tmp_path / "odd", count=2, width_cut=1)
    assert main(["train", "--data", str(odd), "--classes", "19", "--out", str(tmp_path / "c"), *SMALL]) == 2
    assert "63 pixels wide: an odd width has no middle" in error_line(capsys)


def test_a_folder_of_composites_trains_with_a_palette_file(tmp_path, capsys):
    palette = tmp_path / "palette.txt"
    lines = ["road, 128, 64, 128", "sidewalk, 244, 35, 232", "building, 70, 70, 70",
             "pole, 153, 153, 153", "vegetation, 107, 142, 35", "sky, 70, 130, 180",
             "person, 220, 20, 60", "car, 0, 0, 142"]
    palette.write_text("\n".join(lines) + "\n")
    folder = composites(tmp_path / "streets", count=8)
    out = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--palette", str(palette), "--val-split", "0.25",
                 "--out", str(out), *SMALL]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert set(k for k in report if k.startswith("heldout_iou_")) == {f"heldout_iou_{n.split(',')[0]}"
                                                                      for n in lines}


def test_inspect_names_broken_files_odd_sizes_and_far_colours(tmp_path, capsys):
    pairs = tmp_path / "pairs"
    (pairs / "images").mkdir(parents=True)
    (pairs / "masks").mkdir()
    for name, size, mask_size in (("a", (40, 30), (40, 30)), ("b", (40, 30), (20, 15)),
                                  ("c", (40, 30), (30, 30))):
        Image.new("RGB", size, (9, 9, 9)).save(pairs / "images" / f"{name}.png")
        Image.new("L", mask_size, 255).save(pairs / "masks" / f"{name}.png")
    (pairs / "images" / "d.png").write_bytes(b"not a png")
    Image.new("L", (40, 30)).save(pairs / "masks" / "d.png")
    Image.new("L", (40, 30)).save(pairs / "masks" / "e.png")
    assert main(["inspect", str(pairs)]) == 1
    out = capsys.readouterr().out
    assert "3 pairs" in out and "3 problems:" in out
    assert "masks/c.png: is 30x30 but its image is 30x40: another aspect ratio" in out
    assert "images/d.png" in out and "masks/e.png: has no image" in out
    assert "1 masks differ in size from their images with the same aspect ratio (b.png)" in out
    folder = composites(tmp_path / "streets", count=3)
    picture = np.asarray(Image.open(folder / "2.png")).copy()
    picture[:, 32:44] = [0, 255, 0]                    # 12 of 32 label columns in a colour of no palette
    Image.fromarray(picture).save(folder / "2.png")
    assert main(["inspect", str(folder), "--classes", "19"]) == 1
    out = capsys.readouterr().out
    assert "3 composites" in out and "2.png: 38% of its label pixels are far from every palette" in out


def test_inspect_reports_the_real_sets(capsys, human_seg_dir, tiktok_dir):
    for folder, expected in ((tiktok_dir, "10 pairs"), (human_seg_dir, "290 pairs")):
        assert main(["inspect", str(folder)]) == 0
        out = capsys.readouterr().out
        assert expected in out and "no problems found" in out and "mask values: 2 gray levels" in out


def test_class_id_masks_in_a_folder_train_and_group_into_the_7_categories(tmp_path, capsys):
    from npcae.data import open_frames
    from npcae.data.palette import CITYSCAPES_19, to_categories
    folder = tmp_path / "ids"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    frames = [render_street(2, i, (32, 32)) for i in range(6)]
    for i, frame in enumerate(frames):
        Image.fromarray(frame.image).save(folder / "images" / f"{i}.png")
        Image.fromarray(frame.ids).save(folder / "masks" / f"{i}.png")       # gray ids 0..18
    read = open_frames(str(folder), (32, 32), palette=CITYSCAPES_19, classes=7)
    _, masks = read.read([0, 1])
    assert np.array_equal(masks[..., 0], to_categories(np.stack([frames[0].ids, frames[1].ids])))
    out = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--classes", "7", "--val-split", "0.34",
                 "--out", str(out), *SMALL]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert "heldout_iou_vehicle" in report and "heldout_iou_car" not in report
    assert main(["inspect", str(folder), "--classes", "7"]) == 0
    assert "vehicle" in capsys.readouterr().out


def test_a_palette_file_of_seven_classes_and_its_void_colours_reach_evaluation(tmp_path):
    from npcae.data.composites import CompositeFrames
    from npcae.data.palette import read_palette
    from npcae.tasks import make_task
    from npcae.train.options import DEFAULTS
    from npcae.train.task_settings import resolve_task, task_config
    palette = tmp_path / "seven.txt"
    palette.write_text("road, 128, 64, 128\nsidewalk, 244, 35, 232\nbuilding, 70, 70, 70\n"
                       "pole, 153, 153, 153\nvegetation, 107, 142, 35\nsky, 70, 130, 180\n"
                       "person, 220, 20, 60\nvoid, 0, 0, 200\n")    # 7 of the 8 classes the streets show
    folder = composites(tmp_path / "streets", count=2)
    assert CompositeFrames(folder, (32, 32), read_palette(palette), classes=7).classes == 7
    run, data_palette = resolve_task({**DEFAULTS, "data": str(folder), "palette": str(palette)})
    task = make_task(task_config(run, data_palette))
    assert run["classes"] == 7 and task.palette.void.tolist() == [[0, 0, 200]]


def test_a_run_keeps_its_palette_without_the_file_and_refuses_another(tmp_path, capsys):
    """Issue 21: the palette is stored with the run. It resumes with the file deleted or moved,
    an edited file cannot change it silently, and another palette given on resume is refused
    by name."""
    lines = "road, 128, 64, 128\nsky, 70, 130, 180\ncar, 0, 0, 142\n"
    palette = tmp_path / "palette.txt"
    palette.write_text(lines)
    folder, out = composites(tmp_path / "streets", count=4), tmp_path / "run"
    assert main(["train", "--data", str(folder), "--palette", str(palette), "--val-split", "0.25",
                 "--out", str(out), *SMALL]) == 0
    palette.unlink()
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
    moved = tmp_path / "moved.txt"
    moved.write_text(lines)
    assert main(["train", "--resume", str(out), "--epochs", "3", "--palette", str(moved),
                 "--no-progress"]) == 0
    edited = tmp_path / "edited.txt"
    edited.write_text(lines.replace("70, 130, 180", "70, 130, 181"))
    assert main(["train", "--resume", str(out), "--epochs", "4", "--palette", str(edited),
                 "--no-progress"]) == 2
    line = error_line(capsys)
    assert "edited.txt is not the palette this run trained with (sky is (70, 130, 180) there, " \
           "(70, 130, 181) here)" in line, line
    palette.write_text(lines.replace("0, 0, 142", "1, 1, 1"))        # edited in place, not given
    assert main(["train", "--resume", str(out), "--epochs", "4", "--no-progress"]) == 0
    config = json.loads(str(np.load(out / "weights.npz")["__config__"]))
    assert config["task"]["colours"][2] == [0, 0, 142]


@pytest.mark.parametrize("option", [["--classes", "7"], ["--palette", "PALETTE"]])
def test_changing_classes_or_palette_on_resume_says_so(street_run, tmp_path, capsys, option):
    """Issue 21: was a class-weights count error."""
    palette = tmp_path / "p.txt"
    palette.write_text("road, 128, 64, 128\nsky, 70, 130, 180\n")
    option = [str(palette) if o == "PALETTE" else o for o in option]
    assert main(["train", "--resume", str(street_run), *option, "--no-progress"]) == 2
    assert f"{option[0]} cannot change when a run is resumed" in error_line(capsys)


def test_a_run_whose_final_figures_failed_draws_them_when_resumed(tmp_path, monkeypatch, capsys):
    """Issue 21: a disk that filled while the per-class figures were written (exit 4); the
    resumed run drew everything but them, and exited 0."""
    import errno

    from npcae.plots import classes

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "confusion.png"))
    out = tmp_path / "run"
    real = classes.plot_confusion
    monkeypatch.setattr(classes, "plot_confusion", full_disk)
    assert main(["train", "--data", "synthetic-streets", "--n-train", "8", "--out", str(out),
                 *SMALL]) == 4
    assert not (out / "confusion.png").exists()
    monkeypatch.setattr(classes, "plot_confusion", real)
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert (out / "confusion.png").stat().st_size > 0 and (out / "class_iou.png").stat().st_size > 0


def test_masks_with_no_labelled_pixel_are_refused_not_trained_on(tmp_path, capsys):
    """Issue 21: class-id masks all 255 (ignored; or colour labels all far from the palette)
    trained with exit 0, loss 0 and NaN metrics; an epoch that counted no pixel now ends the
    run in one line (exit 2)."""
    folder = tmp_path / "ignored"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(4):
        photo = np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(photo).save(folder / "images" / f"{i}.png")
        Image.fromarray(np.full((32, 32), 255, np.uint8)).save(folder / "masks" / f"{i}.png")
    assert main(["train", "--data", str(folder), "--classes", "19", "--val-split", "0.25",
                 "--out", str(tmp_path / "run"), *SMALL]) == 2
    assert "no target pixel counted in epoch 1" in error_line(capsys)


def test_evaluating_with_a_palette_of_another_class_count_is_one_line(street_run, tmp_path, capsys):
    """Issue 21: was not checked, and the error that followed called a colour a class id."""
    palette = tmp_path / "three.txt"
    palette.write_text("road, 128, 64, 128\nsky, 70, 130, 180\ncar, 0, 0, 142\n")
    assert main(["evaluate", "--weights", str(street_run), "--data", "synthetic-streets",
                 "--palette", str(palette), "--size", "32x32"]) == 2
    line = error_line(capsys)
    assert "three.txt names 3 classes, but" in line and "predicts 19" in line, line
