"""The labels that mark what the dashboard made, whether its buttons or the docker CLI made it.

Every container, image and volume a lesson makes carries LESSON_LABEL=<lesson id> (the LABEL line of the Dockerfile
a lesson builds, or `--label`); what a student's seat makes carries SEAT_LABEL=<seat name> beside it.
"""

LESSON_LABEL = "classroom.lesson"
SEAT_LABEL = "classroom.seat"
