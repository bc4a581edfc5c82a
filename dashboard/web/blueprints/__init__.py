"""The dashboard's URLs, a blueprint per resource; one URL serves the page and, for htmx requests, the fragment."""


def register(app):
    """Register every blueprint on the app."""
    from . import auth, classroom, containers, health, images, lesson, transcript, workshop

    for blueprint in (auth.bp, lesson.bp, images.bp, containers.bp, health.bp, transcript.bp, classroom.bp,
                      workshop.bp):
        app.register_blueprint(blueprint)
