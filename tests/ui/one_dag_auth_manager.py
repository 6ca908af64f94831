"""An auth manager that refuses some DAGs to some users, as FAB or Keycloak deployments do.

It is SimpleAuthManager (its tokens, users and roles), except that the user ``outsider`` may read
only ``rocky_view_partial``: what a per-DAG permission looks like to ``is_authorized_dag``, which is
the one call the Rocky view asks. SimpleAuthManager itself grants every DAG to every role that reads.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

ALLOWED = "rocky_view_partial"


class OneDagAuthManager(SimpleAuthManager):
    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        self.asked.append((method, getattr(access_entity, "name", None), getattr(details, "id", None)))
        if user.get_name() == "outsider" and (details is None or details.id != ALLOWED):
            return False
        return bool(
            super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
        )

    #: What the view asked, in order (the test reads it).
    asked: ClassVar[list[tuple[Any, Any, Any]]] = []
