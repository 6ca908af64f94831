"""Who is asking, and may they read this DAG's task data: Airflow's own auth manager decides.

Airflow mounts a plugin's FastAPI app without any authentication, so the view's data endpoint checks
it itself, the way Airflow's REST API does: the JWT comes from the ``Authorization: Bearer`` header
(API clients) or from the ``_token`` cookie that Airflow's UI session holds (the view runs in an
iframe of the same origin, so the browser sends it), the configured auth manager turns it into a user
(``get_user_from_token``: signature, expiry, and on 3.3 revocation), and ``is_authorized_dag`` must
allow ``GET`` on the DAG's XComs *and* task instances (the summary is an XCom of a task instance;
the same checks Airflow's XCom and task-instance endpoints make, with the DAG's team on multi-team
deployments). SimpleAuthManager, FAB and any other auth manager answer through the same two calls.
No token: 401. An invalid token: 403, as Airflow answers. An expired one: 401. Not allowed: 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import Request

__all__ = ["AccessRefused", "authorize", "token_of"]


class AccessRefused(Exception):
    """The request may not read the data: ``status`` (401 or 403) and a sentence for the page."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def token_of(request: Request) -> str | None:
    """The JWT the request carries: a Bearer header first (as Airflow's API), else the UI's cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN  # "_token"

    return request.cookies.get(COOKIE_NAME_JWT_TOKEN) or None


async def user_of(request: Request) -> Any:
    """The auth manager's user for the request's token; :class:`AccessRefused` when there is none."""
    from airflow.api_fastapi.app import get_auth_manager
    from jwt import ExpiredSignatureError, InvalidTokenError

    token = token_of(request)
    if token is None:
        raise AccessRefused(401, "Not signed in: open this page from the Airflow UI, or sign in first.")
    try:
        return await get_auth_manager().get_user_from_token(token)
    except ExpiredSignatureError:
        raise AccessRefused(401, "Your Airflow session has expired: sign in again.") from None
    except InvalidTokenError:
        raise AccessRefused(403, "Invalid Airflow token.") from None


def _team_of(dag_id: str) -> str | None:
    """The DAG's team (multi-team deployments), as Airflow's ``requires_access_dag`` looks it up."""
    from airflow.models.dag import DagModel

    get_team_name = getattr(DagModel, "get_team_name", None)
    if get_team_name is None:  # pragma: no cover - present on 3.1 and 3.3
        return None
    team = get_team_name(dag_id)
    return None if team is None else str(team)


def allowed(user: Any, dag_id: str) -> bool:
    """May ``user`` read this DAG's XComs and task instances? (sync: the auth manager may query a DB)"""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    manager = get_auth_manager()
    details = DagDetails(id=dag_id, team_name=_team_of(dag_id))
    return all(
        manager.is_authorized_dag(method="GET", access_entity=entity, details=details, user=user)
        for entity in (DagAccessEntity.XCOM, DagAccessEntity.TASK_INSTANCE)
    )


async def authorize(request: Request, dag_id: str) -> Any:
    """The user behind the request, allowed to read ``dag_id``'s task data; else :class:`AccessRefused`."""
    from starlette.concurrency import run_in_threadpool

    user = await user_of(request)
    if not await run_in_threadpool(allowed, user, dag_id):
        raise AccessRefused(403, f"You may not read the task data of DAG {dag_id!r}.")
    return user
