"""Detection: monitor specs, baselines, windows and the worker that runs detectors."""
