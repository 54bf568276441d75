"""mlops: a credit-default scorecard run as a system (serving with a durable prediction
log, drift monitoring, automated retraining behind the promotion gate, metrics)."""
