"""Weights → differential memristor conductances (:func:`map_layer`, :func:`map_model`) and the
digital periphery's converters.  The read path over mapped layers (tiles, DAC/ADC, wires,
read noise) is the circuit network's: :func:`circuitsim.network.crossbar_forward`."""

from ..readout import predict_labels
from .config import CAT_STUDY, DEFAULT_MAPPING, MappingConfig
from .converters import quantize_uniform
from .layer import MappedLayer, conductance_levels, map_layer, map_model, quantize_conductance
from .walk import unfold_patches

__all__ = ["CAT_STUDY", "DEFAULT_MAPPING", "MappedLayer", "MappingConfig", "conductance_levels",
           "map_layer", "map_model", "predict_labels", "quantize_conductance",
           "quantize_uniform", "unfold_patches"]
