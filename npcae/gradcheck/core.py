"""Finite-difference gradient checks: does backward() compute the derivative of forward()?

For a layer y = f(x; params) and a random upstream gradient g, backward(g) claims the
vector-Jacobian products  dx = J_x^T g  and  dparam = J_param^T g. Each entry of those is the
derivative of the scalar  <f(x), g>  with respect to one input or parameter entry, which central
differences estimate independently of any backward code:

    d<f, g>/dz_i ~ (8 (F(z + h e_i) - F(z - h e_i)) - (F(z + 2h e_i) - F(z - 2h e_i))) / 12h

the five-point central stencil, F = <f, g>, with error O(h^4) (`order=2` gives the textbook
(F(z + h) - F(z - h)) / 2h, error O(h^2)). Why fourth order: in float64 a forward pass of a deep
net carries ~1e-14 of round-off in F, which a difference divides by h. The textbook stencil
needs h ~ 1e-6 to keep its truncation small, and 1e-14 / 1e-6 leaves ~1e-8 of noise, the size of
the smallest gradient entries of a small CAE. The fourth-order stencil is just as
exact at h ~ 1e-3..1e-2, where the noise is 100x smaller. Inputs should sit further than 2h
from kinks (ReLU at 0, clips) for the estimate to mean anything there.

Relative error per entry:  |a_i - n_i| / max(|a_i|, |n_i|, 1e-3 * max_j |n_j|).
The floor keeps entries whose true value is (almost) zero from dividing rounding noise by zero;
it is one thousandth of the largest entry of the same array, so a wrong entry still shows.
"""
import contextlib
from dataclasses import dataclass

import numpy as np

DEFAULT_STEP = 1e-3
DEFAULT_TOLERANCE = 1e-6
FLOOR = 1e-3


@dataclass
class ArrayCheck:
    """The comparison of one array's analytic gradient with its numerical estimate."""

    name: str
    shape: tuple
    max_abs_error: float
    max_rel_error: float

    def passed(self, tolerance=DEFAULT_TOLERANCE):
        return self.max_rel_error < tolerance


class GradCheckReport(list):
    """A list of ArrayCheck, one per array (input first, then every parameter)."""

    @property
    def max_rel_error(self):
        return max(check.max_rel_error for check in self)

    def passed(self, tolerance=DEFAULT_TOLERANCE):
        return all(check.passed(tolerance) for check in self)

    def __str__(self):
        lines = [f"{'array':<24}{'shape':<22}{'max abs err':>14}{'max rel err':>14}"]
        lines += [f"{c.name:<24}{str(c.shape):<22}{c.max_abs_error:>14.3e}{c.max_rel_error:>14.3e}"
                  for c in self]
        return "\n".join(lines)


def relative_error(analytic, numeric, scale=0.0):
    """(max absolute error, max relative error) between two gradient arrays (see module doc);
    the floor of the denominator is FLOOR times the larger of max |numeric| and `scale`."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"gradient shapes differ: {analytic.shape} vs {numeric.shape}")
    if analytic.size == 0:
        return 0.0, 0.0
    diff = np.abs(analytic - numeric)
    floor = FLOOR * max(float(np.abs(numeric).max()), scale)
    denom = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    rel = np.divide(diff, denom, out=np.zeros_like(diff), where=denom > 0)
    rel[(denom == 0) & (diff > 0)] = np.inf
    return float(diff.max()), float(rel.max())


def numerical_gradient(scalar_fn, z, step=DEFAULT_STEP, order=4, indices=None):
    """d scalar_fn() / dz by central differences; z is perturbed in place and restored. With
    `indices` (flat), only those entries are estimated (the others stay 0)."""
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order}")
    if not z.flags.c_contiguous:
        raise ValueError("numerical_gradient needs a C-contiguous array to perturb")
    flat = z.reshape(-1)
    grad = np.zeros(z.shape, dtype=np.float64)
    grad_flat = grad.reshape(-1)
    for i in (range(flat.size) if indices is None else indices):
        original = flat[i]

        def at(offset):
            flat[i] = original + offset
            value = scalar_fn()
            flat[i] = original
            return value

        near = at(step) - at(-step)
        if order == 2:
            grad_flat[i] = near / (2 * step)
        else:
            grad_flat[i] = (8 * near - (at(2 * step) - at(-2 * step))) / (12 * step)
    return grad


@contextlib.contextmanager
def fixed_state(layer):
    """Within the block, `reset()` puts the state of every layer inside `layer` back to what it
    was on entry; on exit it is put back once more.

        with fixed_state(model) as reset:
            reset(); a = model.forward(x, training=True)
            reset(); b = model.forward(x, training=True)     # a == b: the same dropout masks

    Resetting before every forward makes a training forward one fixed function of x and the
    parameters: every random layer repeats its draws, and state a forward updates (a running
    mean) is not drifted by the thousands of forwards finite differences take.
    """
    saved = layer.state_arrays()

    def reset():
        layer.load_state_arrays(saved)
    try:
        yield reset
    finally:
        reset()


def check_layer(layer, x, upstream=None, seed=0, step=DEFAULT_STEP, order=4, training=True,
                sample=None):
    """Compare layer.backward with central differences for the input and every parameter.

    x must be float64 and the layer's parameters too (`layer.astype(np.float64)`). Every
    forward starts from the layer's state as it was (`fixed_state`), so dropout runs in
    training mode with one mask; the state is restored afterwards. Returns a GradCheckReport.

    sample=(arrays, entries): a deep model has too many entries to difference each (4
    forwards apiece); check the input and `arrays` parameter arrays drawn by the seed, at
    `entries` entries of each, also drawn by the seed. Every entry's backward is still
    computed; only the comparison is sampled.
    """
    x = np.array(x, dtype=np.float64, order="C")
    for name, param, _ in layer.named_parameters():
        if param.dtype != np.float64:
            raise TypeError(f"parameter {name} is {param.dtype}; call layer.astype(np.float64)")
    rng = np.random.default_rng(seed)
    with fixed_state(layer) as reset:
        def forward():
            reset()
            return layer.forward(x, training)

        y = forward()
        g = rng.standard_normal(y.shape) if upstream is None else np.asarray(upstream, np.float64)
        g_before = g.copy()
        analytic = {"input": layer.backward(g)}
        if not np.array_equal(g, g_before):
            raise AssertionError(f"{layer!r}.backward modified its upstream gradient in place")
        arrays = {"input": x}
        for name, param, grad in layer.named_parameters():
            analytic[name], arrays[name] = grad.copy(), param

        def scalar():
            return float(np.sum(forward() * g))

        # A deep model may hold an array whose gradient is exactly zero (a batch norm's beta
        # reaching another batch norm in training mode through linear layers only: the shift is
        # normalised away), where relative errors are of round-off over round-off; its errors
        # are then taken relative to the model's largest gradient (FLOOR of it), not its own.
        scale = max(float(np.abs(a).max(initial=0)) for a in analytic.values()) if sample else 0.0
        report = GradCheckReport()
        for name, indices in pick_entries(arrays, sample, rng).items():
            report.append(compare(name, analytic[name], arrays[name], scalar, step, order, indices,
                                  scale))
    return report


def pick_entries(arrays, sample, rng):
    """{name: flat indices to check, or None for all}: every array, or with sample=(arrays,
    entries) the input and `arrays` parameter arrays, `entries` of each, drawn by rng."""
    if sample is None:
        return {name: None for name in arrays}
    n_arrays, n_entries = sample
    names = [name for name in arrays if name != "input"]
    chosen = ["input"] + [names[i] for i in sorted(rng.choice(len(names), min(n_arrays, len(names)),
                                                              replace=False))]
    return {name: np.sort(rng.choice(arrays[name].size, min(n_entries, arrays[name].size),
                                     replace=False)) for name in chosen}


def compare(name, analytic, array, scalar, step, order=4, indices=None, scale=0.0):
    """The ArrayCheck of one array: its analytic gradient against central differences of
    scalar() (at `indices` only, when given); `scale`: a magnitude the relative error's floor
    is also taken from (see check_layer)."""
    numeric = numerical_gradient(scalar, array, step, order, indices)
    if indices is not None:
        analytic, numeric = analytic.reshape(-1)[indices], numeric.reshape(-1)[indices]
    return ArrayCheck(name, array.shape, *relative_error(analytic, numeric, scale))


def check_loss(loss, pred, target, seed=0, step=1e-4, order=4):
    """Compare loss.backward with central differences w.r.t. the prediction (float64).

    The scalar loss is scaled by a random upstream factor, as a layer's output would be. The
    default step is smaller than for layers: log p has large high derivatives near p = 0, and a
    loss is a short sum whose round-off is tiny.
    """
    pred = np.array(pred, dtype=np.float64, order="C")
    target = np.asarray(target, dtype=np.float64)
    scale = float(np.random.default_rng(seed).standard_normal())
    loss.forward(pred, target)
    analytic = scale * loss.backward()
    numeric = numerical_gradient(lambda: scale * loss.forward(pred, target), pred, step, order)
    return GradCheckReport([ArrayCheck("prediction", pred.shape, *relative_error(analytic, numeric))])
