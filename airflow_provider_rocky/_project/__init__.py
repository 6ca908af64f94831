"""Rocky's project as an Airflow graph: the internals behind ``RockyTaskGroup`` and ``RockyDAG``.

* ``manifest.py``: read and check a saved ``rocky dag --output json`` (a loose reader of its own);
* ``graph.py``: which node becomes which task, what it runs, and its upstream tasks;
* ``select.py``: ``select=`` / ``exclude=`` selectors;
* ``partitions.py``: a time_interval node's partition, from the DAG run's data interval;
* ``state.py``: the single-writer state store (a pool per state file, or one namespace per node);
* ``build.py``: the graph → RockyOperator tasks with their declared outlets;
* ``engine.py``: ``rocky dag`` itself, for the manifest command and the opt-in cached call.

Airflow is imported only by ``build.py``; everything else is plain data, cheap at DAG parse time.
"""
