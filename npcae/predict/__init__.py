"""A trained model on new photos (`npcae predict`): load it, read photos, write what its task
draws for each."""
from .core import load_model, list_images, parse_background, predict_files

__all__ = ["load_model", "list_images", "parse_background", "predict_files"]
