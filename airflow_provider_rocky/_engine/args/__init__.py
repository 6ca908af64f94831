"""The arguments of each engine command after templating: validation and the argv they become."""
