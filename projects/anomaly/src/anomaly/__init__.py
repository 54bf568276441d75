"""anomaly: streaming anomaly detection scored the NAB way."""
