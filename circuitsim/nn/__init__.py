"""Data sets, models and training (torch; CPU everywhere, CUDA when present)."""

from .data import Dataset, get_dataset, load_catvnoncat, load_digits, load_idx, load_idx_dataset
from .models import (
                     build_model,
                     describe_model,
                     make_cat_relu,
                     make_cnn,
                     make_logistic,
                     make_mlp,
                     make_model,
)
from .train import (
                     TrainConfig,
                     accuracy,
                     load_checkpoint,
                     load_model_file,
                     predict,
                     save_checkpoint,
                     train,
)

__all__ = ["Dataset", "TrainConfig", "accuracy", "build_model", "describe_model", "get_dataset",
           "load_catvnoncat", "load_checkpoint", "load_digits", "load_idx",
           "load_idx_dataset", "load_model_file",
           "make_cat_relu", "make_cnn", "make_logistic", "make_mlp", "make_model", "predict",
           "save_checkpoint", "train"]
