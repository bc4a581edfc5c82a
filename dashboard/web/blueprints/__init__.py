"""The dashboard's URLs, a blueprint per resource; one URL serves the page and, for htmx requests, the fragment."""


def register(app):
    """Register every blueprint on the app."""
    from . import auth, containers, health, images, lessons, live, room, seat, steps, terminal, transcript, workshop

    for blueprint in (auth.bp, lessons.bp, steps.bp, images.bp, containers.bp, health.bp, transcript.bp,
                      workshop.bp, room.bp, room.old_classroom, seat.bp, live.bp, terminal.bp):
        app.register_blueprint(blueprint)
    room.keep_time(app)
