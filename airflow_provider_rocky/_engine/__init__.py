"""One engine run: the command, spawning it, supervising it, rendering its stderr, its Pipes channel.

Internal (the leading underscore, as cosmos marks its internals): DAG authors use the operators,
the hook, the trigger and ``airflow_provider_rocky.assets``; nothing here is a stable import path.
"""
