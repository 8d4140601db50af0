"""The training engine, one job per module: components, wrapping, update, state, outputs, loop."""
