"""One module per ``circuitsim`` subcommand (see :mod:`circuitsim.cli`)."""
