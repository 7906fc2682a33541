"""One place for Powertools logging, tracing and metrics (service name and namespace from env)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DropshipConnector")

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "dropship"))
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "dropship"))
metrics = Metrics()
