"""Running the gradient checks of the catalogue (npcae/gradcheck/cases.py: CASES) with the
finite differences of npcae.gradcheck: `npcae gradcheck` prints them as one table,
tests/test_gradcheck.py asserts that each passes. Each case gives one row per checked array:
the input, then every parameter (W, b, ...).

    cases = select(layer="conv2d")                  # or select(model="cae"), or CASES
    status = run(cases, dtype="float64")            # prints the table; 0 all passed, 1 not

In float64 the checks are npcae.gradcheck.check_layer and check_loss as they are. In float32
the layer's float32 backward (the code path training takes) is compared with the same stencil
run on a float64 twin, at a looser tolerance (see FLOAT32 for why).
"""
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from . import core as gradcheck
from .core import (ArrayCheck, GradCheckReport, compare, fixed_state, numerical_gradient,
                   pick_entries, relative_error)
from .cases import CASES, SEED, Case  # noqa: F401 (Case: for callers' own cases)

STENCIL = "five-point central differences, error O(h^4) (npcae.gradcheck)"
# The step h by kind of case. Layers: gradcheck's default. Losses: check_loss's default (log p
# is steep near 0, and a loss's round-off is tiny). The CAE: a deep net's forward carries
# ~1e-14 of round-off, which h = 1e-2 keeps below 1e-7 after the division while the O(h^4)
# truncation stays as small.
STEPS = {"layer": gradcheck.DEFAULT_STEP, "loss": 1e-4, "model": 1e-2}


@dataclass(frozen=True)
class Precision:
    """What a check runs in one dtype, and the tolerance that suits it."""

    dtype: type
    tolerance: float
    why: tuple              # header lines: what runs in which dtype, why this tolerance


FLOAT64 = Precision(np.float64, gradcheck.DEFAULT_TOLERANCE,
                    ("float64: layer, loss and differences all in float64",))
# float32 is what training runs, so its backward is what the float32 check tests. The numerical
# side is still float64: a float32 forward carries a round-off of ~1e-7 |<f, g>|, and a
# difference quotient divides that by h. For the small CAE that is ~1e-4 at h = 1e-2, as large
# as its smallest weight gradients (differenced in float32 it "fails" by 100%; no h fixes it).
# So the float32 layer is compared with central differences of a float64 twin: the same case
# built again (same weights, and generators that draw the same dropout masks). What is left is
# the float32 backward's own rounding, ~1e-7 of its largest terms, which the relative error's
# floor (1e-3 of the largest entry) can magnify to ~1e-4 (measured: up to 1.5e-4 in the CAE).
# Hence 1e-3, not 1e-6; a wrong backward (a missing term, a transposed kernel, a factor) is off
# by far more.
FLOAT32 = Precision(np.float32, 1e-3,
                    ("float32: backward in float32 (the training path) against central "
                     "differences of a float64 twin",
                     "float32 rounding (~1e-7), magnified by the 1e-3 floor, needs a looser "
                     "tolerance"))
PRECISIONS = {"float64": FLOAT64, "float32": FLOAT32}


@dataclass(frozen=True)
class Row:
    layer: str
    configuration: str
    array: str
    step: float
    max_abs_error: float
    max_rel_error: float
    passed: bool
    error: str = ""          # what went wrong when the check itself could not run


class UnknownCase(InputError):
    """A --layer or --model name that no case has."""


def names(cases=CASES):
    return list(dict.fromkeys(case.layer for case in cases))


def model_names(cases=CASES):
    """The models the catalogue checks whole (`npcae gradcheck --model NAME`)."""
    return names([case for case in cases if case.kind == "model"])


def select(layer=None, model=None, cases=CASES):
    """The cases of one layer (by name, any case) or of one model; all of them by default."""
    wanted = (layer or model or "").lower()
    if not wanted:
        return list(cases)
    kinds = ("model",) if model else ("layer", "loss", "model")
    chosen = [case for case in cases if case.layer.lower() == wanted and case.kind in kinds]
    if not chosen:
        valid = names([case for case in cases if case.kind in kinds])
        raise UnknownCase(f"no gradient check for {layer or model!r}; "
                          f"choose from {', '.join(valid)}")
    return chosen


# -- running them ---------------------------------------------------------------------------
def build(case, dtype):
    """The case built from its seed (so every run and every --layer selection checks the same
    numbers), parameters cast to `dtype`. Returns (layer or loss, inputs)."""
    subject, inputs = case.build(np.random.default_rng(SEED))
    if case.kind != "loss":
        subject.astype(dtype)
    return subject, inputs


def array_names(case):
    if case.kind == "loss":
        return ["prediction"]
    layer, x = build(case, np.float64)
    names = ["input"] + [name for name, _, _ in layer.named_parameters()]
    if not case.sample:
        return names
    # the arrays check_layer draws: the same generator, after the same upstream gradient
    rng = np.random.default_rng(SEED)
    rng.standard_normal(layer.output_shape(np.shape(x)))
    arrays = {"input": x, **{name: param for name, param, _ in layer.named_parameters()}}
    return list(pick_entries(arrays, case.sample, rng))


def check_layer_float32(case, step):
    """The float32 layer's backward against central differences of its float64 twin.

    The twin is the same case built again from the same seed: the same weights, and the same
    generators, so its Dropouts draw the float32 layer's masks (they draw float32 uniforms in
    either dtype). The input is rounded to float32 for both. Every forward starts from the
    state its layer was built with (gradcheck.fixed_state), as in check_layer.
    """
    layer, x = build(case, np.float32)
    twin, _ = build(case, np.float64)
    x32 = np.asarray(x, dtype=np.float32)
    x64 = x32.astype(np.float64)
    with fixed_state(layer) as reset, fixed_state(twin) as reset_twin:
        reset()
        y = layer.forward(x32, training=True)
        g = np.random.default_rng(SEED).standard_normal(y.shape).astype(np.float32)
        g_before = g.copy()
        analytic = [layer.backward(g)] + [grad.copy() for _, _, grad in layer.named_parameters()]
        if not np.array_equal(g, g_before):
            raise AssertionError(f"{layer!r}.backward modified its upstream gradient in place")
        arrays = [("input", x64)] + [(name, param) for name, param, _ in twin.named_parameters()]
        g64 = g.astype(np.float64)

        def scalar():
            reset_twin()
            return float(np.sum(twin.forward(x64, training=True) * g64))
        analytic = dict(zip([name for name, _ in arrays], analytic))
        picked = pick_entries(dict(arrays), case.sample, np.random.default_rng(SEED))
        return GradCheckReport(compare(name, analytic[name], dict(arrays)[name], scalar, step,
                                       indices=indices) for name, indices in picked.items())


def check_loss_float32(case, step):
    """The loss's backward on a float32 prediction against central differences in float64."""
    loss, (pred, target) = build(case, np.float32)
    pred32 = np.asarray(pred, dtype=np.float32)
    pred64 = pred32.astype(np.float64)
    scale = float(np.random.default_rng(SEED).standard_normal())
    loss.forward(pred32, target)
    analytic = scale * loss.backward()
    numeric = numerical_gradient(lambda: scale * loss.forward(pred64, target), pred64, step)
    return GradCheckReport([ArrayCheck("prediction", pred.shape,
                                       *relative_error(analytic, numeric))])


def check(case, precision, tolerance):
    """Run one case's check; yield a Row per array."""
    step = case.step or STEPS[case.kind]
    try:
        if precision.dtype == np.float32:
            checker = check_loss_float32 if case.kind == "loss" else check_layer_float32
            report = checker(case, step)
        elif case.kind == "loss":
            loss, (pred, target) = build(case, np.float64)
            report = gradcheck.check_loss(loss, pred, target, seed=SEED, step=step)
        else:
            report = gradcheck.check_layer(*build(case, np.float64), seed=SEED, step=step,
                                           sample=case.sample)
    except Exception as error:
        # A layer under test that raises (a shape error, dy modified in place) is a failed
        # check: it gets its row, and the cases after it still run.
        yield Row(case.layer, case.configuration, "-", step, np.nan, np.nan, False,
                  f"{type(error).__name__}: {error}".splitlines()[0])
        return
    for result in report:
        yield Row(case.layer, case.configuration, result.name, step, result.max_abs_error,
                  result.max_rel_error, result.passed(tolerance))


def run(cases, dtype="float64", tolerance=None, out=None):
    """Check every case, print the table and a summary line; return 0 if all passed, else 1.

    The CLI's `npcae gradcheck` is this function applied to `select(...)`.
    """
    out = out or sys.stdout
    precision = PRECISIONS[dtype]
    tolerance = precision.tolerance if tolerance is None else tolerance
    # Sized before anything is checked, so rows can be printed as each check finishes.
    widths = (max([5] + [len(case.layer) for case in cases]),
              max([13] + [len(case.configuration) for case in cases]),
              max([5] + [len(name) for case in cases for name in array_names(case)]))
    columns = (f"{{:<{widths[0]}}}  {{:<{widths[1]}}}  {{:<{widths[2]}}}  "
               "{:>7}  {:>11}  {:>11}  {}")

    print(f"gradient check: {STENCIL}", file=out)
    for line in precision.why:
        print(f"  {line}", file=out)
    print(f"  random upstream gradient (seed {SEED}); a row passes if max relative error "
          f"< {tolerance:g}", file=out)
    print(f"  relative error per entry: |a - n| / max(|a|, |n|, {gradcheck.FLOOR:g} * max |n|)",
          file=out)
    print(file=out)
    print(columns.format("layer", "configuration", "array", "h", "max abs err", "max rel err",
                         "result"), file=out)
    failed = total = 0
    for case in cases:
        for row in check(case, precision, tolerance):
            total += 1
            failed += not row.passed
            print(columns.format(row.layer, row.configuration, row.array, f"{row.step:.0e}",
                                 f"{row.max_abs_error:.2e}", f"{row.max_rel_error:.2e}",
                                 "pass" if row.passed else f"FAIL {row.error}".rstrip()),
                  file=out, flush=True)
    print(file=out)
    if failed:
        print(f"{failed} of {total} checks failed", file=out)
        return 1
    print(f"{total} checks, all passed", file=out)
    return 0
