"""Starting a run from the weights of another: fine-tuning, or a model trained small first.

    npcae train --model unet --data cityscapes-pix2pix --size 128x128 --epochs 20 --out runs/small
    npcae train --model unet --data cityscapes-pix2pix --init-from runs/small --epochs 8 ...

The new run builds its model as its own settings say, then copies in every parameter and moving
statistic of the trained one; its random generators (dropout), the optimiser, the schedule and
the epochs start afresh from its own seed and settings. The trained model must have the same
layers and weight shapes: the same builder, filters, classes, alpha, upsampling, dropout or
none (each named when it differs); arguments that shape no weight (dropout's rate, the
activation, batch norm's momentum) may change. The size may differ, as every registered model
is fully convolutional: a model trained at 128x128 continues at 256x256 (progressive resizing),
or on a user's own photos.
"""
import numpy as np

from ..errors import InputError
from ..layers.state import encode
from ..models.io import WeightsMismatch, load_arrays
from ..predict.load import load_model
from .run_settings import SettingsError

FLAGS = {"filters": "--filters", "alpha": "--alpha", "classes": "--classes"}


def start_from(model, weights, flag="--init-from"):
    """Copy the parameters and moving statistics of the trained model in `weights` (a run
    folder, weights.npz or checkpoint.npz) into `model`, in place; returns the file read.
    SettingsError, one line and the model untouched, when the file cannot be read or holds
    other layers."""
    try:
        loaded = load_model(weights)
    except InputError as error:
        raise SettingsError(f"{flag}: {error}") from None
    trained = loaded.model
    ours, theirs = model.config, trained.config
    if ours["builder"] != theirs["builder"]:
        raise SettingsError(f"{flag} {weights} holds a {theirs['builder']} model; this run "
                            f"trains a {ours['builder']} (give --model {theirs['builder']})")
    params = {name: value for name, value, _ in trained.named_parameters()}
    # Generators stay the new run's, so that it repeats from its own seed (and a trained model
    # without dropout has none to give); every other state entry must come from the file.
    state = {name: encode(value) for name, value in model.named_state()
             if isinstance(value, np.random.Generator)}
    state.update({name: value for name, value in trained.named_state()
                  if not isinstance(value, np.random.Generator)})
    try:
        load_arrays(model, params, state, f"{flag} {weights} is another architecture")
    except WeightsMismatch as error:
        raise SettingsError(mismatch(flag, weights, theirs, ours) or str(error)) from None
    return loaded.path


def mismatch(flag, weights, theirs, ours):
    """A one-line account of the arguments in which two configs differ, or None."""
    keys = sorted(set(ours["args"]) | set(theirs["args"]))
    differing = [key for key in keys if ours["args"].get(key) != theirs["args"].get(key)]
    if not differing:
        return None
    if "classes" in differing:
        outputs = lambda n: "one mask" if n in (None, 1) else f"{n} classes"
        return (f"{flag} {weights} predicts {outputs(theirs['args'].get('classes'))}; this run "
                f"predicts {outputs(ours['args'].get('classes'))}")
    return (f"{flag} {weights} was trained with another {theirs['builder']}: "
            + ", ".join(f"{spelled(key, theirs['args'].get(key))} (this run "
                        f"{spelled(key, ours['args'].get(key))})" for key in differing))


def spelled(key, value):
    """A builder argument as the command line gives it (--filters 2,3,4), else by name."""
    if key not in FLAGS:
        return f"{key} {value}"
    return f"{FLAGS[key]} {','.join(map(str, value)) if isinstance(value, list) else value}"
