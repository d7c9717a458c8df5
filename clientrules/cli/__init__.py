"""The ``clientrules`` command: one module per area of commands, each loaded when one of its commands runs."""
