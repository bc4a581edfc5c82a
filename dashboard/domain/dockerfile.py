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


# BuildKit (moby/buildkit's Dockerfile frontend) numbers the FROM and the instructions that make a layer as [N/M];
# the others (ARG, ENV, CMD, LABEL, EXPOSE, USER, …) only set the build's arguments or the image's settings and
# print no line of their own. The classic builder numbers every instruction as "Step N/M".
BUILDKIT_STEPS = {"RUN", "COPY", "ADD", "WORKDIR"}
# BuildKit's plain log numbers its jobs as it meets them: #1 reads the Dockerfile, #2 the base image's details,
# #3 .dockerignore, then #4 is [1/M] FROM. A COPY or ADD adds a job (the build context) among the steps.
FIRST_STEP_JOB = 4
SHOWN_WORDS = 3  # the keyword and two words: the start of a line both builders print alike
UNSAFE = ("$", "\\", "`")  # BuildKit expands variables in the step's name; a line is cut before them


@dataclass(frozen=True)
class BuilderLines:
    """One step of this Dockerfile as each builder logs it: the classic builder (the dashboard's build, through the
    SDK) and BuildKit (the `docker build` typed on Docker Engine 23 and later)."""

    classic_step: str  # Step 3/7 : RUN apt-get update …
    classic_cached: str  # " ---> Using cache"
    buildkit_step: str | None  # #5 [2/3] RUN apt-get update …, as piped or with --progress=plain
    buildkit_cached: str | None  # #5 CACHED
    terminal_step: str  # " => [2/3] RUN apt-get update …", as an interactive terminal shows it
    terminal_cached: str  # " => CACHED [2/3] RUN apt-get update …"
    quiet_step: str | None  # Step 4/7 : ENV PATH=$PATH:/usr/games, which BuildKit prints no line for
    quiet_keywords: tuple[str, ...]  # the Dockerfile's instructions that get no BuildKit line: ARG, ENV, CMD, LABEL
    classic_total: int
    buildkit_total: int


def _start_of(text, safe):
    """The first SHOWN_WORDS words of an instruction, then " …" when there is more; with `safe`, cut before a
    word BuildKit would rewrite (a variable, an escape)."""
    words = text.split()
    shown = []
    for word in words[:SHOWN_WORDS]:
        if safe and any(mark in word for mark in UNSAFE):
            break
        shown.append(word)
    return " ".join(shown) + (" …" if len(shown) < len(words) else "")


def builder_lines(instructions):
    """This Dockerfile's first layer step and first metadata step as both builders log them; None when BuildKit's
    lines cannot be told for sure (several stages, or no step that makes a layer)."""
    froms = [i for i in instructions if i.keyword == "FROM"]
    if len(froms) != 1:
        return None  # stages are named in BuildKit's lines ([stage-1 2/5]), and numbered each on its own
    after = instructions[instructions.index(froms[0]) + 1:]
    steps = [i for i in after if i.keyword in BUILDKIT_STEPS]
    if not steps:
        return None
    base = froms[0].text.split()[1:2]
    counted_from = 0 if [word.lower() for word in base] == ["scratch"] else 1  # FROM scratch is no step
    total = counted_from + len(steps)
    first = steps[0]
    index = f"[{counted_from + 1:>{len(str(total))}}/{total}]"  # padded as BuildKit pads it: [ 2/10]
    shown = first.keyword + _start_of(first.text, safe=True)[len(first.keyword):]
    job = None
    if counted_from and not any(i.keyword in ("COPY", "ADD") for i in instructions):
        job = FIRST_STEP_JOB + 1
    quiet = [i for i in instructions if i.keyword != "FROM" and i.keyword not in BUILDKIT_STEPS]
    quiet_after = [i for i in quiet if i.step > froms[0].step]
    return BuilderLines(
        classic_step=f"Step {first.step}/{len(instructions)} : {_start_of(first.text, safe=False)}",
        classic_cached=" ---> Using cache",
        buildkit_step=f"#{job} {index} {shown}" if job else None,
        buildkit_cached=f"#{job} CACHED" if job else None,
        terminal_step=f" => {index} {shown}",
        terminal_cached=f" => CACHED {index} {shown}",
        quiet_step=(f"Step {quiet_after[0].step}/{len(instructions)} : {_start_of(quiet_after[0].text, safe=False)}"
                    if quiet_after else None),
        quiet_keywords=tuple(dict.fromkeys(i.keyword for i in quiet)),
        classic_total=len(instructions),
        buildkit_total=total,
    )
