"""AutoML benchmark: one protocol, five frameworks, eight datasets, on Dask."""
