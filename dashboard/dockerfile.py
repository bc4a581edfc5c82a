"""The build context's Dockerfile, instruction by instruction, each with a sentence saying what it does."""

from dataclasses import dataclass

EXPLAINED = {
    "ARG": "Declares a build argument, set with `--build-arg`; the default after `=` is used otherwise.",
    "FROM": "The base image: every later step adds a layer on top of it.",
    "LABEL": "Metadata kept in the image and inherited by every container made from it; the dashboard finds "
             "its containers by this label.",
    "RUN": "Runs a shell command at build time; the files it changes become a new layer, reused from the cache "
           "until this line or one above it changes.",
    "ENV": "Sets an environment variable for the later steps and for every container.",
    "CMD": "The command a container runs when it starts; nothing runs at build time.",
    "EXPOSE": "Documents the port the program listens on; publishing it is still `docker run -p`.",
    "WORKDIR": "The folder later steps and the container start in.",
    "COPY": "Copies files from the build context into the image.",
    "ADD": "Copies files (or unpacks archives) from the build context into the image.",
    "ENTRYPOINT": "The program a container always runs; CMD then gives its default arguments.",
    "USER": "The user later steps and the container run as.",
}


@dataclass(frozen=True)
class Instruction:
    step: int  # as the classic builder numbers them in "Step N/M"
    keyword: str
    text: str
    explanation: str


def instructions(text):
    """The Dockerfile's instructions, continuation lines joined, comments and blank lines left out."""
    result, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        full = pending + stripped
        pending = ""
        keyword = full.split(maxsplit=1)[0].upper()
        result.append(Instruction(len(result) + 1, keyword, full,
                                  EXPLAINED.get(keyword, "A Dockerfile instruction; see the Dockerfile reference.")))
    return result
