"""Optimisers against independent implementations of their update rules."""
import numpy as np
import pytest

from npcae.optim import SGD, Adam


def paper_adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-7):
    """Kingma & Ba, Algorithm 1, with the epsilon of their section 2 that Keras uses:
    eps_hat = eps / sqrt(1 - b2^t) added to sqrt(v_hat)."""
    m = v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        eps_hat = eps / np.sqrt(1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps_hat)
    return p


def test_adam_first_step_moves_each_weight_by_lr():
    p, g = np.array([1.0, -2.0]), np.array([0.5, -3.0])
    opt = Adam([("p", p, g)], lr=0.01, eps=0.0)
    opt.step()
    np.testing.assert_allclose(p, [0.99, -1.99], rtol=1e-12)       # |step 1| = lr * sign(g)


def test_adam_matches_the_paper_over_many_steps(rng):
    p0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(20)]
    p, g = p0.copy(), np.zeros(5)
    opt = Adam([("p", p, g)], lr=5e-4)
    for grad in grads:
        g[...] = grad
        opt.step()
    np.testing.assert_allclose(p, paper_adam(p0, grads, 5e-4), rtol=1e-12, atol=1e-15)


def test_adam_keeps_float32_and_resumes_bit_for_bit(rng):
    def run(steps, opt_state=None, start=None):
        p = (start if start is not None else np.ones(4, np.float32)).copy()
        g = np.zeros(4, np.float32)
        opt = Adam([("w", p, g)])
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        for grad in steps:
            g[...] = grad
            opt.step()
        return p, opt
    grads = [np.random.default_rng(i).standard_normal(4).astype(np.float32) for i in range(6)]
    straight, _ = run(grads)
    half, opt = run(grads[:3])
    assert half.dtype == np.float32 and opt.state_dict()["m/w"].dtype == np.float32
    resumed, _ = run(grads[3:], opt.state_dict(), half)
    np.testing.assert_array_equal(resumed, straight)


def test_sgd_with_and_without_momentum():
    p, g = np.array([1.0]), np.array([2.0])
    SGD([("p", p, g)], lr=0.1).step()
    assert p[0] == pytest.approx(0.8)
    p[...] = 1.0
    opt = SGD([("p", p, g)], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()                       # v1 = -0.2, v2 = 0.9 * -0.2 - 0.2 = -0.38
    assert p[0] == pytest.approx(1.0 - 0.2 - 0.38)
    assert opt.state_dict()["velocity/p"][0] == pytest.approx(-0.38)


def test_optimiser_state_refuses_foreign_names():
    opt = Adam([("a", np.zeros(2), np.zeros(2))])
    with pytest.raises(ValueError, match="'b'"):
        opt.load_state_dict({"iterations": 1, "lr": 1e-3, "m/b": np.zeros(2)})
    with pytest.raises(ValueError, match="no parameters"):
        Adam([])


def test_an_optimiser_whose_arrays_a_cast_replaced_says_so():
    """model.astype makes new arrays; an Adam made before it would update the old ones, and the
    model would never move. Its next step raises instead, naming the parameter."""
    from npcae.layers import Conv2D
    layer = Conv2D(2, 3, 3, rng=np.random.default_rng(0))
    opt = Adam(layer.named_parameters())
    layer.astype(np.float32)                     # the same dtype: the same arrays, still fine
    opt.step()
    layer.astype(np.float64)
    with pytest.raises(RuntimeError, match="'W' is no longer the model's"):
        opt.step()
    moved = Adam(layer.named_parameters())       # made after the cast: steps move the layer
    before = layer.params["W"].copy()
    layer.grads["W"][...] = 1.0
    moved.step()
    assert not np.array_equal(layer.params["W"], before)
