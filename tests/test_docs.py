"""docs/backprop.md stays true to the code: its pointers resolve, its sections and constants exist.

A code pointer is a backticked `npcae/<path>.py: Name.attribute`; a test pointer is a backticked
`tests/<file>.py::test_name`. Any other backticked mention of a .py file is a malformed pointer.
"""
import ast
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from npcae import gradcheck, losses
from npcae.kernels import subpixel
from npcae.layers import LeakyReLU
from npcae.optim import Adam

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "backprop.md"

CODE_POINTER = re.compile(r"^(npcae/[\w/]+\.py): ([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
TEST_POINTER = re.compile(r"^(tests/\w+\.py)::(\w+)$")
BACKTICKED = re.compile(r"`([^`\n]+)`")

# Every layer the doc must cover: a keyword of its "## " heading. Each such section must point
# at the code that implements it and at a test that checks it.
REQUIRED_SECTIONS = [
    "Conv2D via im2col", "Strided conv", "1x1 conv", "centred stride-1 conv",
    "Nearest upsampling", "Bilinear upsampling", "sub-pixel", "Swish", "Sigmoid", "ReLU",
    "Dropout", "Dice loss", "Focal loss", "Adam", "Max pooling", "Batch normalization",
    "Transposed convolution", "concatenation's gradient split", "three functions",
    "Depthwise convolution", "Inverted residual block",
]


def doc_text():
    return DOC.read_text(encoding="utf-8")


def sections():
    """{"## heading": body} for every second-level section of the doc."""
    parts = re.split(r"^## (.+)$", doc_text(), flags=re.MULTILINE)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2])}


def section(keyword):
    matches = [body for heading, body in sections().items() if keyword.lower() in heading.lower()]
    assert len(matches) == 1, f"expected one '## ' heading containing {keyword!r}, found {len(matches)}"
    return matches[0]


def pointers(text):
    """(code pointers, test pointers, malformed spans) among the backticked spans of text."""
    code, tests, malformed = [], [], []
    for span in BACKTICKED.findall(text):
        if ".py" not in span or not span.startswith(("npcae/", "tests/")):
            continue
        if m := CODE_POINTER.match(span):
            code.append(m.groups())
        elif m := TEST_POINTER.match(span):
            tests.append(m.groups())
        else:
            malformed.append(span)
    return code, tests, malformed


def resolve_code_pointer(path, dotted):
    """Import the module at `path` and getattr through `dotted`; raise if any step is missing."""
    assert (ROOT / path).is_file(), f"{path} does not exist"
    module = importlib.import_module(path[:-len(".py")].replace("/", "."))
    obj = module
    for name in dotted.split("."):
        obj = getattr(obj, name)          # AttributeError names the missing piece
    return obj


def functions_defined_in(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_pointer_is_well_formed_and_resolves():
    code, tests, malformed = pointers(doc_text())
    assert not malformed, f"pointers not in the form `path: Name.attr` or `tests/x.py::test`: {malformed}"
    assert len(code) >= 40 and len(tests) >= 15, "the pointer parser found too few pointers"
    missing = []
    for path, dotted in sorted(set(code)):
        try:
            resolve_code_pointer(path, dotted)
        except (AssertionError, ImportError, AttributeError) as error:
            missing.append(f"{path}: {dotted} ({error})")
    for path, name in sorted(set(tests)):
        if not (ROOT / path).is_file() or name not in functions_defined_in(path):
            missing.append(f"{path}::{name}")
    assert not missing, "docs/backprop.md points at things that do not exist:\n" + "\n".join(missing)


def test_the_resolver_rejects_what_does_not_exist():
    assert resolve_code_pointer("npcae/layers/conv.py", "Conv2D.backward_data")
    with pytest.raises(AttributeError):
        resolve_code_pointer("npcae/layers/conv.py", "Conv2D.backward_nothing")
    with pytest.raises(AssertionError):
        resolve_code_pointer("npcae/layers/convolution.py", "Conv2D")
    assert pointers("`npcae/layers/conv.py:Conv2D`")[2], "a missing space must count as malformed"


def test_notation_section_comes_first():
    headings = list(sections())
    assert "notation" in headings[0].lower() and "contract" in headings[0].lower(), headings


@pytest.mark.parametrize("keyword", REQUIRED_SECTIONS)
def test_each_required_layer_has_a_section_with_code_and_test_pointers(keyword):
    code, tests, _ = pointers(section(keyword))
    assert code, f"section {keyword!r} points at no code"
    assert tests, f"section {keyword!r} points at no test"


def stated_values(body, name):
    """Every number the text states as `name = <number>`."""
    number = r"([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)"
    return [float(v) for v in re.findall(rf"(?<![\w.]){re.escape(name)} = {number}", body)]


ADAM_DEFAULTS = {k: p.default for k, p in inspect.signature(Adam.__init__).parameters.items()
                 if p.default is not inspect.Parameter.empty}

CONSTANTS = [
    ("Focal loss", "alpha", losses.FocalLoss().alpha),
    ("Focal loss", "gamma", losses.FocalLoss().gamma),
    ("Focal loss", "EPSILON", losses.EPSILON),
    ("Dice loss", "smooth", losses.DiceLoss().smooth),
    ("Adam", "lr", ADAM_DEFAULTS["lr"]),
    ("Adam", "beta1", ADAM_DEFAULTS["beta1"]),
    ("Adam", "beta2", ADAM_DEFAULTS["beta2"]),
    ("Adam", "eps", ADAM_DEFAULTS["eps"]),
    ("ReLU", "a", LeakyReLU().alpha),
    ("Notation", "h", gradcheck.DEFAULT_STEP),
]


@pytest.mark.parametrize("keyword, name, value", CONSTANTS, ids=lambda v: str(v))
def test_stated_constants_match_the_code(keyword, name, value):
    stated = stated_values(section(keyword), name)
    assert stated, f"section {keyword!r} does not state `{name} = ...`"
    assert all(v == pytest.approx(value, rel=1e-12) for v in stated), \
        f"section {keyword!r} states {name} = {stated}, the code has {value}"


def test_subpixel_phase_matrices_match_phase_taps():
    body = section("sub-pixel")
    for a in range(2):
        m = re.search(rf"M\[{a}\] = (\[\[[0-9, \[\]]+\]\])", body)
        assert m, f"the sub-pixel section does not state M[{a}]"
        assert json.loads(m.group(1)) == subpixel.PHASE_TAPS[a].astype(int).tolist()


def test_readme_links_backprop_md_and_shows_every_example_with_a_picture():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/backprop.md)" in readme
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r"^\| \[`(\w+\.py)`\]\(examples/\1\) \| .+ \| <img src=\"([^\"]+)\"", readme, re.M)}
    scripts = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert set(rows) == scripts, f"README examples table vs examples/: {set(rows) ^ scripts}"
    for script, image in rows.items():
        assert (ROOT / image).stat().st_size > 10_000, f"{script}: {image} missing or empty"


ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_architecture_md_pointers_resolve_and_the_readme_links_it():
    code, tests, malformed = pointers(ARCHITECTURE.read_text(encoding="utf-8"))
    assert not malformed, f"malformed pointers in docs/architecture.md: {malformed}"
    assert len(code) >= 15, "the pointer parser found too few pointers"
    for path, dotted in sorted(set(code)):
        resolve_code_pointer(path, dotted)
    for path, name in sorted(set(tests)):
        assert name in functions_defined_in(path), f"{path}::{name}"
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text()


def test_architecture_md_example_callback_runs(tmp_path):
    """The doc's own callback, in a real (tiny) run: it stops the run once held-out IoU passes."""
    block = re.search(r"```python\n(.*?)```", ARCHITECTURE.read_text(), re.S).group(1)
    namespace = {}
    exec(block.replace("0.9", "-1.0"), namespace)         # any IoU passes: stop at the first
    from npcae.train.experiment import assemble
    exp = assemble(dict(size=[16, 8], epochs=5, val_every=1, model_args={"filters": [2, 2, 2]}),
                   tmp_path, progress=False, log=lambda *_: None)
    exp.trainer.callbacks.insert(1, namespace["StopWhenGood"]())
    assert exp.trainer.fit() == "stopped" and exp.trainer.epoch == 1
