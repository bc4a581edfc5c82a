"""GET /healthz: whether the Docker engine answers, for scripts and monitoring."""

from dataclasses import asdict

from flask import Blueprint

from ...domain.errors import EngineError
from ..extensions import get_engine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def check():
    """200 with the engine's name, version, API version, OS/arch and endpoint, asked now; 503 with the reason and
    the endpoint tried when it does not answer."""
    engine = get_engine()
    try:
        about = engine.version()
    except EngineError as error:
        return {"engine": "unreachable", "error": str(error), "endpoint": engine.endpoint.url}, 503
    return {"engine": "reachable", **asdict(about)}
