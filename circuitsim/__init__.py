"""circuitsim: memristor crossbar neural networks in ngspice and in a fast behavioral twin."""

__version__ = "0.1.0"
