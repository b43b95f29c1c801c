"""The model registry: builders by name, so that any model is rebuilt from the config stored
beside its weights.

    model = create("cae", input_size=(256, 128), seed=0, filters=(4, 32, 256))
    model.config   # {"builder": "cae", "args": {...every argument...}, "input_size": [256, 128]}
    twin = build(model.config)          # the same architecture; load the weights into it

A config may carry more keys, which build() keeps: a trained model's "task" (how its outputs
are read, npcae.tasks), set by npcae.train.experiment.

A builder is a function `builder(..., seed=None) -> model`. `create` records every argument it
ran with (its defaults filled in, so a later change of a default cannot change a stored model),
except the seed, which only draws the initial weights that a loaded file replaces.
Registering a new model is one line: `register("unet", unet, run_defaults=RUN_DEFAULTS)`,
where the run defaults are the training settings it changes when they are not given (the
U-Net's recipe: data, batch size, schedule, augmentation), kept beside its builder.
"""
import inspect

from ..errors import InputError

BUILDERS = {}
RUN_DEFAULTS = {}        # name -> the run settings the model changes (npcae.train reads them)


class UnknownModel(InputError):
    """A builder name that is not registered, or arguments it does not take."""


def register(name, builder, run_defaults=None):
    """Make `builder` available as `name` to create() and build(), with the run settings it
    changes when a run does not give them; returns the builder."""
    BUILDERS[name] = builder
    RUN_DEFAULTS[name] = dict(run_defaults or {})
    return builder


def _plain(value):
    """JSON-ready: tuples become lists (recursively)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def create(name, input_size=None, seed=None, **args):
    """A new model from the builder `name`; its config says how to build it again."""
    if name not in BUILDERS:
        raise UnknownModel(f"unknown model {name!r}; choose from {', '.join(sorted(BUILDERS))}")
    builder = BUILDERS[name]
    try:
        bound = inspect.signature(builder).bind(**args, seed=seed)
    except TypeError as error:
        raise UnknownModel(f"model {name!r}: {error}") from None
    bound.apply_defaults()
    model = builder(*bound.args, **bound.kwargs)
    stored = {key: _plain(value) for key, value in bound.arguments.items() if key != "seed"}
    model.config = {"builder": name, "args": stored,
                    "input_size": list(input_size) if input_size is not None else None}
    if input_size is not None:                  # what summary() shows by default
        channels = model.input_shape[-1] if getattr(model, "input_shape", None) else 3
        model.input_shape = (*input_size, channels)
    return model


def build(config, seed=None):
    """Rebuild the model a stored config describes (weights are loaded separately).

    Also reads the flat configs of npcae 0.1 weights files: {"builder": "cae", <args>...,
    "input_size": [H, W]}.
    """
    config = dict(config)
    name = config.pop("builder", None)
    input_size = config.pop("input_size", None)
    if name is None:
        raise UnknownModel("the stored config names no builder")
    if "args" in config:
        args, extra = config.pop("args"), config      # extra: e.g. the task the model was trained for
    else:
        args, extra = {k: v for k, v in config.items() if k != "task"}, {}
    model = create(name, input_size=input_size, seed=seed, **args)
    model.config.update(extra)
    return model
