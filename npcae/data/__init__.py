"""Data: image/mask folders, a synthetic stand-in record, the tiktok-136 download, augmentation."""
from .folder import DataError, Record, TIKTOK_TRAIN, iter_batches, load_folder, split
from .synthetic import SYNTHETIC_TRAIN, save_record, synthetic_record
