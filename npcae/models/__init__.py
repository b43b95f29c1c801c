"""Models: containers of layers, the builders of whole models, their registry, save and load.

    model = create("cae", input_size=(256, 128), seed=0)   # any registered builder, by name
    build(model.config)                                     # the same architecture again
"""
from .cae import CAE, cae, conv_block
from .containers import Add, Concatenate, Container, Sequential
from .io import WeightsMismatch, load_weights, read_config, save_weights
from .registry import BUILDERS, RUN_DEFAULTS, UnknownModel, build, create, register
from .mobilenet import RUN_DEFAULTS as MOBILENET_RUN_DEFAULTS, mobilenet_unet, mobilenet_v2_encoder
from .unet import RUN_DEFAULTS as UNET_RUN_DEFAULTS, UNet, unet

register("cae", cae)
register("unet", unet, run_defaults=UNET_RUN_DEFAULTS)
register("mobilenet_unet", mobilenet_unet, run_defaults=MOBILENET_RUN_DEFAULTS)

__all__ = ["Sequential", "Add", "Concatenate", "Container", "cae", "CAE", "conv_block", "unet",
           "UNet", "mobilenet_unet", "mobilenet_v2_encoder", "build",
           "create", "register", "BUILDERS", "RUN_DEFAULTS", "UnknownModel", "save_weights", "load_weights",
           "read_config", "WeightsMismatch"]
