"""Optimisers. Each keeps its state per named parameter and updates the arrays in place.

    opt = Adam(model.named_parameters(), lr=5e-4)
    loss.forward(model.forward(x, training=True), y); model.backward(loss.backward()); opt.step()

State is plain arrays: `opt.state_dict()` -> {name: ndarray}, `opt.load_state_dict(state)`.
"""
import math

import numpy as np


class Optimizer:
    def __init__(self, named_parameters, lr):
        self.named = [(name, param, grad) for name, param, grad in named_parameters]
        if not self.named:
            raise ValueError("the optimiser got no parameters")
        self.lr = float(lr)
        self.iterations = 0
        self.slots = {}           # slot name -> {param name: array}

    def _slot(self, slot):
        if slot not in self.slots:
            self.slots[slot] = {name: np.zeros_like(p) for name, p, _ in self.named}
        return self.slots[slot]

    def step(self):
        for name, param, _ in self.named:
            if not param.flags.writeable:        # Layer.astype retires the arrays it replaces
                raise RuntimeError(f"parameter {name!r} is no longer the model's (model.astype "
                                   "replaced it after this optimiser was created); create the "
                                   "optimiser after astype")
        self.iterations += 1
        for name, param, grad in self.named:
            self.update(name, param, grad)

    def state_dict(self):
        state = {"iterations": np.array(self.iterations), "lr": np.array(self.lr)}
        for slot, arrays in self.slots.items():
            state.update({f"{slot}/{name}": value for name, value in arrays.items()})
        return state

    def load_state_dict(self, state):
        self.iterations = int(state["iterations"])
        self.lr = float(state["lr"])
        names = {name for name, _, _ in self.named}
        for key, value in state.items():
            if "/" in key:
                slot, name = key.split("/", 1)
                if name not in names:
                    raise ValueError(f"optimiser state has {name!r}, which the model does not")
                self._slot(slot)[name][...] = value


class SGD(Optimizer):
    """Keras SGD:  v = momentum * v - lr * g;  p += v   (plain p -= lr * g when momentum is 0)."""

    def __init__(self, named_parameters, lr=0.01, momentum=0.0):
        super().__init__(named_parameters, lr)
        self.momentum = float(momentum)

    def update(self, name, param, grad):
        if self.momentum == 0.0:
            param -= self.lr * grad
            return
        velocity = self._slot("velocity")[name]
        velocity *= self.momentum
        velocity -= self.lr * grad
        param += velocity


class Adam(Optimizer):
    """Keras Adam (Kingma & Ba with the "epsilon hat" of their section 2), at step t:

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    PyTorch's Adam is the same but for eps, which it adds to sqrt(v / (1 - b2^t)); with
    eps -> 0 the two coincide. eps defaults to Keras's 1e-7, as in the original.
    """

    def __init__(self, named_parameters, lr=5e-4, beta1=0.9, beta2=0.999, eps=1e-7):
        super().__init__(named_parameters, lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def step(self):
        t = self.iterations + 1
        # a Python float, so float32 parameters stay float32 (NumPy scalars would upcast)
        self._step_size = float(self.lr * np.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t))
        super().step()

    def update(self, name, param, grad):
        m, v = self._slot("m")[name], self._slot("v")[name]
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        param -= self._step_size * m / (np.sqrt(v) + self.eps)


# -- learning-rate schedules: the rate as a function of the epoch (the LearningRateSchedule
# callback of npcae.train sets it before each epoch) ---------------------------------------
SCHEDULES = ("constant", "cosine", "warmup-cosine")
WARMUP = 0.05           # warmup-cosine: the share of the epochs spent rising to the rate


def scheduled_lr(kind, lr, epoch, epochs, floor=0.01):
    """The learning rate of 0-based `epoch` of `epochs` under schedule `kind`:
    constant; cosine, from lr down to floor * lr; warmup-cosine, rising linearly over the first
    5% of the epochs (at least one) from lr / warm-up epochs to lr, then the cosine over the rest
    (Adam's first steps, its moment estimates still young, taken small: Goyal et al. 2017)."""
    if kind == "constant":
        return lr
    if kind == "warmup-cosine":
        warm = max(1, round(WARMUP * epochs))
        if epoch < warm:
            return lr * (epoch + 1) / warm
        epoch, epochs = epoch - warm, epochs - warm
        kind = "cosine"
    if kind == "cosine":
        progress = min(epoch / max(epochs, 1), 1.0)
        return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
    raise ValueError(f"unknown learning-rate schedule {kind!r}; choose from {', '.join(SCHEDULES)}")
