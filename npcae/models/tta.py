"""Test-time augmentation: a model's outputs averaged over the image and its mirror image.

    model = with_tta(model, "flip")       # forward(x) = (f(x) + mirror(f(mirror(x)))) / 2
    model = with_tta(model, None)         # the model itself

A segmentation model trained with horizontal flips has learnt both orientations; asking it
about both and averaging removes part of its error that is not symmetric (the usual gain is a
point or two of IoU, measured per model in the README). The outputs averaged are the model's
own: a binary model's probabilities (after its sigmoid), a multi-class model's logits (their
mean's argmax is the class). It costs a second forward: twice the time per image.
"""
import numpy as np

from .containers import Container

TTA = ("flip",)


class FlipAveraged(Container):
    """The model (its one child) run on x and on x mirrored left to right, the second output
    mirrored back, the two averaged. Inference only."""

    def forward(self, x, training=False):
        if training:
            raise RuntimeError("test-time augmentation is for inference")
        model = self.layers[0]
        y = model.forward(x)
        mirrored = model.forward(np.ascontiguousarray(x[:, :, ::-1]))
        y = y + mirrored[:, :, ::-1]
        y *= y.dtype.type(0.5)
        return y

    def backward(self, grad_out):
        raise RuntimeError("test-time augmentation is for inference: it has no backward")

    def output_shape(self, input_shape):
        return self.layers[0].output_shape(input_shape)

    def forward_macs(self, input_shape):
        return 2 * self.layers[0].forward_macs(input_shape)


def with_tta(model, tta):
    """`model` wrapped for test-time augmentation `tta` (None: as it is)."""
    if tta is None:
        return model
    if tta not in TTA:
        raise ValueError(f"test-time augmentation must be one of {', '.join(TTA)}, got {tta!r}")
    return FlipAveraged(model)
