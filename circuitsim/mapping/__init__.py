"""Weights → differential memristor conductances, and the crossbar read path (tiles, DAC/ADC)."""

from .config import CAT_STUDY, DEFAULT_MAPPING, MappingConfig
from .forward import (
                      crossbar_forward,
                      mapped_accuracy,
                      predict_labels,
                      quantize_uniform,
                      unfold_patches,
)
from .layer import MappedLayer, conductance_levels, map_layer, map_model, quantize_conductance

__all__ = ["CAT_STUDY", "DEFAULT_MAPPING", "MappedLayer", "MappingConfig", "conductance_levels",
           "crossbar_forward", "map_layer", "map_model", "mapped_accuracy", "predict_labels",
           "quantize_conductance", "quantize_uniform", "unfold_patches"]
