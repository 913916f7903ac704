"""Registered names (data sets, model kinds), torch-free so that building the ``circuitsim``
command-line parser does not import torch.  The modules that implement them import these
tuples, so there is one list of each."""

DATASETS = ("digits", "mnist", "fashion-mnist", "catvnoncat")
"""Data sets :func:`circuitsim.nn.get_dataset` knows."""

MODEL_KINDS = ("mlp", "logistic", "cat-relu", "cnn")
"""Model kinds :func:`circuitsim.nn.make_model` knows."""

STUDY_NAMES = ("variability", "tiles-adc", "vmax", "stuck-at", "retention", "endurance",
               "noise-training", "ir-drop", "scenario", "nonlinearity")
"""Names of :data:`circuitsim.studies.STUDIES` (a test checks they are the same)."""
