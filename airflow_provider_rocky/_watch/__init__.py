"""``RockyTaskGroup(shape="watch")``: one engine run, one Airflow task per node (the internals).

* ``tracker.py``: the producer's reading of ``rocky run --dag``'s stderr, node by node, as it
  happens (the ``materialize.table`` span, the executor's layer, failure and skip events);
* ``protocol.py``: what the producer publishes in XCom (a head document per try, one detail per
  node) and what a node task leaves behind (the generation its try took); ``documents.py``: those
  documents as they may be stored;
* ``decide.py``: what a node task does, given the producer's state and those documents (pure);
* ``publisher.py``: publishing from the producer's worker while the engine runs;
* ``reading.py``: a node task's reads of its producer (worker or triggerer);
* ``render.py``: the group's tasks and edges, at DAG parse time.

The tasks are public: ``operators/watch_producer.py`` (the producer), ``operators/watch.py`` (the
node tasks) and ``triggers/watch.py`` (their wait). README, "Rocky's project as a task group" →
``shape="watch"``, has the design and its choices.
"""
