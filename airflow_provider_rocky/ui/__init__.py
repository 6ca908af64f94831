"""The Rocky view in the Airflow UI: what a Rocky task did, on a tab of the task-instance page.

``plugin.RockyViewPlugin`` registers it (an Airflow 3.1+ UI plugin); ``app`` serves the page and its
read-only data API, ``auth`` checks access with Airflow's auth manager, ``store`` reads the metadata
DB, ``model`` (with ``tables``, ``full_result``, ``sections``, ``advice``) builds what the page draws,
and ``static/`` is the page itself (plain HTML, CSS and JavaScript, no build step). Nothing here is
imported by the operators: this package runs in the api-server.
"""
