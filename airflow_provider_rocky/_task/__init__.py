"""What a task contributes to an engine run, and the commands a task can declare.

Internal: the request builder shared by ``execute()`` and ``start_from_trigger``, the task instance's
deadline, keys and audit trail, the trigger → task wire format, and the command declarations.
"""
