"""Alembic migrations of the mlops database (the prediction log, outcomes, drift
metrics, model events): ``python -m mlops migrate`` or :func:`mlops.predictions.migrate`."""
