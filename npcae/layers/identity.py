"""Identity: the branch of a skip connection that carries x past the others."""
from .base import Layer


class Identity(Layer):
    """y = x;  dx = dy.  Keras `Identity`, PyTorch `nn.Identity`.

    `Add(Identity(), block)` is a residual block, `Concatenate(Identity(), inner)` a U-Net skip.
    """

    def forward(self, x, training=False):
        return x

    def backward(self, grad_out):
        return grad_out
