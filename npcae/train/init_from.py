"""Starting a run from the weights of another: fine-tuning, or a model trained small first.

    npcae train --model unet --data cityscapes-pix2pix --size 128x128 --epochs 20 --out runs/small
    npcae train --model unet --data cityscapes-pix2pix --init-from runs/small --epochs 8 ...

The new run builds its model as its own settings say, then copies in every parameter and state
array (batch-norm statistics) of the trained one; the optimiser, the schedule and the epochs start
afresh. Both must be the same architecture: the same builder with the same layers (filters, classes,
alpha, upsampling, dropout or none), each refused by name when it differs. The size may differ, as every registered model is fully convolutional: a model
trained at 128x128 continues at 256x256 (progressive resizing), or on a user's own photos.
"""
import numpy as np

from ..models.io import WeightsMismatch, load_arrays
from ..predict import load_model
from ..errors import InputError
from .run_settings import SettingsError


def start_from(model, weights, flag="--init-from"):
    """Copy the parameters and state of the trained model in `weights` (a run folder,
    weights.npz or checkpoint.npz) into `model`, in place. SettingsError, one line and the model
    untouched, when the file cannot be read or holds another architecture."""
    try:
        trained = load_model(weights).model
    except InputError as error:
        raise SettingsError(f"{flag}: {error}") from None
    ours, theirs = model.config, trained.config
    if ours["builder"] != theirs["builder"]:
        raise SettingsError(f"{flag} {weights} holds a {theirs['builder']} model; this run "
                            f"trains a {ours['builder']} (give --model {theirs['builder']})")
    params = {name: value for name, value, _ in trained.named_parameters()}
    # The statistics come from the trained model; random generators (dropout) stay the new
    # run's own, drawn from its seed.
    state = model.state_arrays()
    state.update({name: value for name, value in trained.state_arrays().items()
                  if not isinstance(dict(trained.named_state())[name], np.random.Generator)})
    try:
        load_arrays(model, params, state,
                    f"{flag} {weights} is another architecture")
    except WeightsMismatch as error:
        # Arguments such as dropout may differ freely; name the one that changed the shapes.
        differing = [key for key in sorted(set(ours["args"]) | set(theirs["args"]))
                     if ours["args"].get(key) != theirs["args"].get(key)]
        if not differing:
            raise SettingsError(str(error)) from None
        key = differing[0]
        raise SettingsError(f"{flag} {weights} was trained with {key} "
                            f"{theirs['args'].get(key)}; this run's model has {key} "
                            f"{ours['args'].get(key)}: give the same to start from it") from None
