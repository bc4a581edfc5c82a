"""The labels that mark what the dashboard made, whether its buttons or the docker CLI made it.

Every container, image and volume a lesson makes carries LESSON_LABEL=<lesson id> (the LABEL line of the Dockerfile
a lesson builds, or `--label`). A student's seat needs no label: it has a Docker engine of its own.
"""

LESSON_LABEL = "classroom.lesson"
