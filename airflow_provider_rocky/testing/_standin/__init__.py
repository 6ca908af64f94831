"""Internals of the stand-in engine; the public face is :mod:`airflow_provider_rocky.testing`."""
