"""GET /healthz: whether the Docker engine answers, for scripts and monitoring."""

from dataclasses import asdict

from flask import Blueprint

from ...domain.errors import EngineError
from ..extensions import get_engine
from ..filters import engine_endpoint, engine_text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def check():
    """200 with the engine's name, version, API version, OS/arch and endpoint, asked now; 503 with the reason and
    the endpoint tried when it does not answer. A TCP endpoint is named to the instructor only."""
    engine = get_engine()
    endpoint = engine_endpoint()
    shown = {"endpoint": endpoint} if endpoint else {}
    try:
        about = engine.version()
    except EngineError as error:
        return {"engine": "unreachable", "error": engine_text(str(error)), **shown}, 503
    about = {key: value for key, value in asdict(about).items() if key != "endpoint"}
    return {"engine": "reachable", **about, **shown}
