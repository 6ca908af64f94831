"""What a finished engine run means: the interpreter, the XCom summary, asset events, lineage.

Internal. :mod:`~airflow_provider_rocky._verdict.interpret` is the one place that decides; the
others turn its verdict into what Airflow keeps.
"""
