"""Apache Airflow 3 provider for the Rocky SQL transformation engine."""

from __future__ import annotations

__version__ = "0.1.0"
