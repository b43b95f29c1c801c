"""`npcae inspect coco:FILE.json` (npcae.data.coco_inspection): images, instances per category,
crowd share and masks' coverage; missing image files are problems (exit 1)."""
import pytest

from npcae.cli import main
from npcae.data.coco_inspection import inspect_coco
from test_coco import coco_api, coco_dir, spec, tiny        # noqa: F401 (fixtures)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_the_tiny_files_figures_are_its_annotations_and_its_decoded_masks(tiny, coco_api):
    path, data, crowd, block = tiny
    report = inspect_coco(f"coco:{path}", category="person")
    person, dog = report.categories
    assert (person.name, person.images, person.instances, person.crowds) == ("person", 2, 3, 1)
    assert (dog.name, dog.images, dog.instances, dog.crowds) == ("dog", 1, 1, 0)
    reference = coco_api[0]()
    reference.dataset = data
    reference.createIndex()
    polygon = reference.annToMask(data["annotations"][0])
    union_a = polygon | reference.annToMask(data["annotations"][1])
    decoded = report.decoded
    assert decoded["images"] == 2
    assert decoded["mean"] == pytest.approx((union_a.mean() + block.mean()) / 2)
    assert decoded["crowd_share"] == pytest.approx((crowd & ~polygon).sum() / (union_a.sum() + block.sum()))
    assert report.problems == [] and report.lines()[-1] == "no problems found"


def test_a_missing_image_is_a_problem_and_the_command_exits_1(tiny, capsys):
    path = tiny[0]
    (path.parent.parent / "mini2017" / "b.png").unlink()
    assert main(["inspect", f"coco:{path}", "--category", "person", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "1 problem:" in out and "b.png: is missing (named in instances_mini2017.json)" in out
    assert main(["inspect", "synthetic", "--category", "person"]) == 2
    assert "--category is for COCO data" in capsys.readouterr().err


def test_coco_tiny_val_holds_49_people_in_216_instances_7_of_them_crowds(coco_dir, capsys):
    assert main(["inspect", spec(coco_dir, "val"), "--category", "person", "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line.split() for line in lines if line.split()[:1] == ["person"])
    assert row[1:5] == ["1", "49", "216", "7"]
    assert any(line.startswith("  person masks decoded") and "49 images" in line for line in lines)
