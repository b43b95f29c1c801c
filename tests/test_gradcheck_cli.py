"""`npcae gradcheck`: the table covers every case and array, the filters, bad names, and a
broken layer failing through the same code path the command uses."""
import contextlib
import io

import numpy as np
import pytest

from npcae import layers, losses
from npcae.gradcheck import suite as gradcheck_suite
from npcae.cli import main
from conftest import gradcheck_rows
from npcae.gradcheck.suite import CASES, Case, array_names, run

N_CAE_ARRAYS = 1 + 2 * 13            # input, then W and b of its 13 convolutions


def table(text):
    """The rows of a printed table as dicts, split at the header's column starts."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("layer "))
    start_config, start_array = lines[header].index("configuration"), lines[header].index("array")
    rows = []
    for line in lines[header + 1:]:
        if not line.strip():
            break
        array, step, abs_err, rel_err, result, *error = line[start_array:].split()
        rows.append(dict(layer=line[:start_config].strip(),
                         configuration=line[start_config:start_array].strip(), array=array,
                         step=float(step), abs_err=float(abs_err), rel_err=float(rel_err),
                         result=result, error=" ".join(error)))
    return rows


def gradcheck(*args):
    """main(["gradcheck", *args]) with its stdout: (exit status, text)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["gradcheck", *args])
    return status, out.getvalue()


@pytest.fixture(scope="module")
def full_run():
    """The whole table, its rows shared with test_gradcheck.py's (conftest.gradcheck_rows)."""
    real = gradcheck_suite.check
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gradcheck_suite, "check",
                      lambda case, precision, tolerance: iter(gradcheck_rows(real, case, precision, tolerance)))
        return gradcheck()


def test_the_full_table_has_a_passing_row_for_every_case_and_array(full_run):
    status, text = full_run
    rows = table(text)
    expected = [(case.layer, case.configuration, name)
                for case in CASES for name in array_names(case)]
    assert [(r["layer"], r["configuration"], r["array"]) for r in rows] == expected
    failed = [r for r in rows if r["result"] != "pass"]
    assert not failed, f"failed rows: {failed}"
    assert all(r["rel_err"] < 1e-6 for r in rows)               # float64's tolerance
    assert text.rstrip().splitlines()[-1] == f"{len(expected)} checks, all passed"
    assert status == 0
    assert "five-point" in text and "< 1e-06" in text
    assert len([r for r in rows if r["layer"] == "cae"]) == N_CAE_ARRAYS


def test_every_exported_layer_and_loss_has_a_case():
    exported = {name for name in layers.__all__ if isinstance(getattr(layers, name), type)
                and issubclass(getattr(layers, name), layers.Layer)}
    exported -= {"Layer"}                       # the abstract base: nothing to check
    wanted = exported | {"Add", "Concatenate", "DiceFocalLoss", "cae"}
    wanted |= {cls.__name__ for cls in losses.LOSSES.values()}
    assert wanted <= set(gradcheck_suite.names())


def test_layer_filter_is_case_insensitive():
    status, text = gradcheck("--layer", "conv2D")
    rows = table(text)
    n_cases = sum(case.layer == "Conv2D" for case in CASES)
    assert n_cases >= 8 and len(rows) == 3 * n_cases                 # input, W, b each
    assert {r["layer"] for r in rows} == {"Conv2D"}
    assert {r["array"] for r in rows} == {"input", "W", "b"}
    assert status == 0 and text.rstrip().endswith(f"{len(rows)} checks, all passed")


@pytest.mark.parametrize("args", [["--model", "cae"], ["--layer", "CAE"]])
def test_model_cae_selects_the_cae_alone(args, monkeypatch):
    """The selection only: the CAE's own check (its rows all passing) is in the full table."""
    calls = []

    def run_spy(cases, dtype, tolerance):
        calls.append((cases, dtype, tolerance))
        return 0
    monkeypatch.setattr(gradcheck_suite, "run", run_spy)
    assert main(["gradcheck", *args]) == 0
    [(cases, dtype, tolerance)] = calls
    assert [(case.layer, case.kind) for case in cases] == [("cae", "model")]
    assert (dtype, tolerance) == ("float64", None)


def test_float32_checks_pass_at_the_looser_tolerance_stated_in_the_header():
    status, text = gradcheck("--layer", "dropout", "--dtype", "float32")
    rows = table(text)
    assert status == 0 and len(rows) == 2
    assert all(r["result"] == "pass" for r in rows)
    assert "float32" in text and "< 0.001" in text


@pytest.mark.parametrize("args, complaint", [
    (["--layer", "conv3d"], "no gradient check for 'conv3d'; choose from Conv2D"),
    (["--tolerance", "-1"], "--tolerance must be positive"),
])
def test_bad_input_is_one_line_and_exit_status_2(args, complaint, capsys):
    assert main(["gradcheck", *args]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("npcae: error: ") and complaint in err[0]
    assert "Traceback" not in captured.err and captured.out == ""


# -- a broken layer must fail, through the command's own code path ----------------------------
class ScaledWeightGradient(layers.Conv2D):
    """A Conv2D whose dW is 1% too large when its input has one of `dtypes`."""

    def __init__(self, *args, dtypes=(np.float32, np.float64), **kwargs):
        super().__init__(*args, **kwargs)
        self.dtypes = dtypes

    def backward(self, grad_out):
        dx = super().backward(grad_out)
        if self._x.dtype in self.dtypes:
            self.grads["W"] *= 1.01
        return dx


class InPlaceBackward(layers.Swish):
    """A Swish whose backward overwrites its upstream gradient."""

    def backward(self, grad_out):
        dx = super().backward(grad_out)
        grad_out[...] = 0
        return dx


def broken_conv_case(dtypes=(np.float32, np.float64)):
    def build(rng):
        layer = ScaledWeightGradient(2, 3, 3, 2, rng=rng, dtypes=dtypes)
        return layer, rng.standard_normal((2, 5, 4, 2))
    return Case("BrokenConv", "dW 1% too large", build)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_wrong_weight_gradient_fails_and_the_command_exits_1(dtype, monkeypatch):
    good = gradcheck_suite.select(layer="relu")[:1]                     # one passing row
    monkeypatch.setattr(gradcheck_suite, "select", lambda **_: [broken_conv_case(), *good])
    status, text = gradcheck("--dtype", dtype)
    rows = table(text)
    assert [(r["layer"], r["array"], r["result"]) for r in rows] == [
        ("BrokenConv", "input", "pass"), ("BrokenConv", "W", "FAIL"), ("BrokenConv", "b", "pass"),
        ("ReLU", "input", "pass")]
    assert rows[1]["rel_err"] == pytest.approx(0.01 / 1.01, rel=1e-2)
    assert text.rstrip().endswith("1 of 4 checks failed") and status == 1


def test_float32_checks_the_float32_backward():
    """A backward wrong only for float32 input passes in float64 and fails in float32."""
    case = broken_conv_case(dtypes=(np.float32,))
    assert run([case], "float64", out=io.StringIO()) == 0
    out = io.StringIO()
    assert run([case], "float32", out=out) == 1
    assert [r["result"] for r in table(out.getvalue())] == ["pass", "FAIL", "pass"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_backward_that_modifies_its_upstream_gradient_is_a_failed_row(dtype):
    in_place = Case("InPlaceSwish", "dy zeroed",
                    lambda rng: (InPlaceBackward(), rng.standard_normal((1, 3, 2, 2))))
    cases = [in_place, *gradcheck_suite.select(layer="tanh")[:1]]
    out = io.StringIO()
    assert run(cases, dtype, out=out) == 1
    rows = table(out.getvalue())
    assert rows[0]["array"] == "-" and rows[0]["result"] == "FAIL"
    assert "modified its upstream gradient in place" in rows[0]["error"]
    assert rows[1]["layer"] == "Tanh" and rows[1]["result"] == "pass"        # the run went on
    assert out.getvalue().rstrip().endswith("1 of 2 checks failed")
