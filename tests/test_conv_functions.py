"""The convolution's functional core (layers/conv_functions.py): each road against the loops of
kernels/reference.py, and the plan a layer shows in repr, summary() and the trace."""
import numpy as np
import pytest

from npcae.kernels import conv_geometry, reference
from npcae.kernels.workspace import KeptColumns
from npcae.layers import Conv2D
from npcae.layers.conv_functions import (COL2IM, FLIPPED_KERNEL, KEPT_COLUMNS, POINTWISE,
                                         WHOLE_COLUMNS, conv_backward_data,
                                         conv_backward_weights, conv_forward, conv_plan,
                                         flipped_kernel)


@pytest.mark.parametrize("kernel, stride, padding, keep, flip", [
    (3, 1, "same", True, True), (3, 1, "same", False, True), (3, 2, "same", False, False),
    (3, 2, "same", True, False), (2, 2, "valid", False, False), (1, 1, "same", False, False)])
def test_every_road_computes_the_reference(kernel, stride, padding, keep, flip, rng):
    x = rng.standard_normal((2, 7, 6, 3))
    weights, bias = rng.standard_normal((kernel, kernel, 3, 4)), rng.standard_normal(4)
    geom = conv_geometry(7, 6, kernel, kernel, stride, padding)
    plan = conv_plan(geom, keep=keep, flip_data=flip)
    kept, w = KeptColumns(), weights.reshape(-1, 4)
    y = conv_forward(x, geom, w, bias, plan, kept).reshape(2, geom.out_h, geom.out_w, 4)
    np.testing.assert_allclose(y, reference.conv2d_forward(x, weights, bias, stride, padding),
                               rtol=0, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(dy, x, weights, stride, padding)
    dw, db, cols = conv_backward_weights(x, geom, dy.reshape(-1, 4), plan, kept)
    flipped = (dy, geom, flipped_kernel(weights)) if plan.data == FLIPPED_KERNEL else None
    dx = conv_backward_data(dy.reshape(-1, 4), geom, w, x.shape, plan, cols, flipped)
    for got, expected in ((dw.reshape(weights.shape), dw_ref), (db, db_ref), (dx, dx_ref)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_a_layer_shows_the_roads_it_takes(rng):
    thin, wide = Conv2D(3, 4, 3, rng=rng), Conv2D(3, 64, 3, 2, rng=rng)
    assert thin.plan() == (KEPT_COLUMNS, KEPT_COLUMNS, FLIPPED_KERNEL)
    assert thin.plan(training=False).forward != KEPT_COLUMNS
    assert wide.plan() == ("column blocks", WHOLE_COLUMNS, COL2IM)
    assert Conv2D(3, 4, 1, rng=rng).plan() == (POINTWISE,) * 3
    assert "[kept columns / kept columns / flipped kernel]" in repr(thin)
    x = rng.standard_normal((1, 8, 6, 3)).astype(np.float32)
    wide.forward(x, training=True)
    assert wide.last_plan == wide.plan()
    from npcae.layers import Sigmoid
    from npcae.losses import MSELoss
    from npcae.models import Sequential
    from npcae.optim import Adam
    from npcae.trace import trace_step
    model = Sequential(Conv2D(3, 1, 3, rng=rng), Sigmoid())
    trace = trace_step(model, MSELoss(), Adam(model.named_parameters()), x, np.zeros((1, 8, 6, 1), np.float32))
    assert trace.layers[0].plan == "kept columns / kept columns / flipped kernel"
    assert "kept columns / kept columns / flipped kernel" in trace.table()
