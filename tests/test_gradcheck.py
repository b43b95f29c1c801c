"""Every case of the gradient-check catalogue (npcae/gradcheck/cases.py: CASES) passes in float64,
and the checker itself: it fails a wrong backward, refuses float32, keeps random layers fixed."""
import numpy as np
import pytest

from npcae.gradcheck import suite as gradcheck_suite
from npcae.gradcheck.core import check_layer, fixed_state, numerical_gradient, relative_error
from npcae.layers import Conv2D, Dropout, Identity, Layer
from npcae.models import Sequential, cae
from conftest import gradcheck_rows

TOLERANCE = 1e-6


@pytest.mark.parametrize("case", gradcheck_suite.CASES,
                         ids=lambda case: f"{case.layer}: {case.configuration}")
def test_case_passes_in_float64(case):
    """Central differences against a random upstream gradient (seed 0), every array of the
    case: the input, then every parameter."""
    rows = gradcheck_rows(gradcheck_suite.check, case, gradcheck_suite.FLOAT64, TOLERANCE)
    assert [row.array for row in rows] == gradcheck_suite.array_names(case), rows[0].error
    failed = [f"{row.array}: max relative error {row.max_rel_error:.2e}" for row in rows
              if not row.passed]
    assert not failed, f"{case.layer} ({case.configuration}) failed: {failed}"


class _WrongConv(Conv2D):
    """A Conv2D whose weight gradient misses the contribution of the last image of the batch."""

    def backward(self, grad_out):
        dx = super().backward(grad_out)
        partial = grad_out.copy()
        partial[-1] = 0
        super().backward(partial)
        return dx


def test_the_check_catches_a_wrong_backward(rng):
    layer = _WrongConv(2, 3, 3, 2, rng=rng).astype(np.float64)
    report = check_layer(layer, rng.standard_normal((2, 5, 4, 2)))
    by_name = {check.name: check for check in report}
    assert by_name["input"].passed(TOLERANCE)
    assert not by_name["W"].passed(TOLERANCE) and by_name["W"].max_rel_error > 1e-2
    assert not report.passed(TOLERANCE)


def test_the_check_refuses_float32_parameters(rng):
    with pytest.raises(TypeError, match="float64"):
        check_layer(Conv2D(2, 3, 3, rng=rng), rng.standard_normal((1, 4, 4, 2)))


def test_relative_error_definition():
    abs_err, rel = relative_error(np.array([1.0, 2.0, 0.0]), np.array([1.0, 2.2, 0.0]))
    assert abs_err == pytest.approx(0.2) and rel == pytest.approx(0.2 / 2.2)
    assert relative_error(np.zeros(3), np.zeros(3)) == (0.0, 0.0)


@pytest.mark.parametrize("order", [2, 4])
def test_numerical_gradient_of_a_known_function(order):
    z = np.array([0.3, -1.2, 2.0])
    numeric = numerical_gradient(lambda: float(np.sum(np.sin(z) * z)), z, 1e-4, order)
    np.testing.assert_allclose(numeric, np.cos(z) * z + np.sin(z), rtol=1e-7)
    np.testing.assert_array_equal(z, [0.3, -1.2, 2.0])      # restored after perturbing


class _Counter(Layer):
    """y = x + count, then count += 1 in training: state a forward drifts, if nothing resets it."""

    def __init__(self):
        super().__init__()
        self.add_state("count", np.zeros(()))

    def forward(self, x, training=False):
        y = x + self.state["count"]
        if training:
            self.state["count"][...] += 1
        return y

    def backward(self, grad_out):
        return grad_out


def test_fixed_state_repeats_every_draw_and_puts_the_state_back(rng):
    model = Sequential(Dropout(0.5, rng=0), _Counter(), cae(filters=(2,), seed=1))
    x = rng.random((1, 4, 2, 3))
    model.forward(x, training=True)                      # state that is not the initial one
    before = model.state_arrays()
    with fixed_state(model) as reset:
        reset()
        first = model.forward(x, training=True)
        second = model.forward(x, training=True)
        assert not np.array_equal(first, second)         # without reset: new masks, count + 1
        reset()
        np.testing.assert_array_equal(model.forward(x, training=True), first)
    after = model.state_arrays()
    assert after.keys() == before.keys() and len(before) == 1 + 1 + 4
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])


def test_a_drifting_layer_passes_only_because_its_state_is_reset(rng):
    """Without the reset every difference quotient would see count grow by 1 per forward."""
    layer = Sequential(_Counter(), Identity())
    report = check_layer(layer, rng.standard_normal((1, 2, 3, 1)))
    assert report.passed(TOLERANCE) and float(layer.state_arrays()["0.count"]) == 0
