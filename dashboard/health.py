"""GET /healthz: whether the Docker engine answers, for scripts and monitoring."""

from flask import Blueprint

from .engine import EngineError, get_engine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def check():
    """200 with the engine's version when it answers, 503 with the reason when it does not."""
    try:
        version = get_engine().version()
    except EngineError as error:
        return {"engine": "unreachable", "error": str(error)}, 503
    return {"engine": "reachable", **version}
