"""The instructor's progress grid: seats down, a lesson's steps across, each cell passed, not yet or failed.

Read from the board alone (the seats' latest runs and their checks' latest results), so drawing the grid for any
number of viewers costs the engine nothing; the checks are refreshed in the background (checks.Board).
"""

from dataclasses import dataclass

from .checks import FAILED, PASSED, scope_of

PASSED_CELL, NOT_YET, FAILED_CELL = "passed", "not-yet", "failed"


@dataclass(frozen=True)
class Cell:
    step_id: str
    state: str  # passed, not-yet, failed
    reason: str


@dataclass(frozen=True)
class Row:
    seat: object  # seats.Seat
    cells: tuple

    @property
    def done(self):
        return sum(1 for cell in self.cells if cell.state == PASSED_CELL)


@dataclass(frozen=True)
class Count:
    step: object  # lessons.Step
    passed: int
    failed: int
    of: int


def cell(board, lesson, seat, step, previous_done=True):
    """One seat's state on one step. A step with a check is passed once its check passed after the seat's latest
    press (and stays so when a later step undoes it: the lesson removes what it ran), or when its check passes
    now (a check that something is gone, only once the seat pressed the step: it passes before the thing was
    ever made too; one `after_previous`, only once the step before it is done, `previous_done`); failed when the
    seat pressed it and its check or its run failed; without a check, its run says."""
    scope = scope_of(lesson.id, seat.name)
    ran, result = board.last_run(scope, step.id), board.result(scope, step.id)
    check = step.check
    achieved = board.achieved(scope, step.id)
    if achieved is not None:  # done since its latest press, though a later step may have undone it since
        return Cell(step.id, PASSED_CELL, achieved.reason)
    if ran is not None and ran.running:  # a long step (Compose building) the seat pressed, still running
        return Cell(step.id, NOT_YET, f"Running{f', at {ran.stage}' if ran.stage else ''}…")
    in_turn = not check.waits_its_turn or (check.after_previous and previous_done) if check is not None else True
    if check is not None and result is not None and result.state == PASSED and (ran or in_turn):
        return Cell(step.id, PASSED_CELL, result.reason)
    if ran is not None and not ran.ok:
        return Cell(step.id, FAILED_CELL, f"It ran and failed: {ran.output.strip()[-200:]}")
    if check is None:
        if ran is not None:
            return Cell(step.id, PASSED_CELL, "Done.")
        return Cell(step.id, NOT_YET, "Not pressed yet.")
    if ran is not None and result is not None and result.state == FAILED:
        return Cell(step.id, FAILED_CELL, result.reason)
    return Cell(step.id, NOT_YET, result.reason if result is not None and ran is not None else "Not done yet.")


def _cells(board, lesson, seat):
    """The seat's cells of the lesson, in order: each knows whether the last step before it that has a check is
    done (a step without one, typed rather than pressed, leaves no trace to wait for)."""
    cells, previous_done = [], True
    for step in lesson.steps:
        cells.append(cell(board, lesson, seat, step, previous_done))
        if step.check is not None:
            previous_done = cells[-1].state == PASSED_CELL
    return tuple(cells)


def grid(board, lesson, seats):
    """(rows, counts): a Row per seat of `seats` (in their order), each with a Cell per step of the lesson, and a
    Count per step. `lesson` is the lesson as seats do it; the board is keyed by its id and each seat."""
    rows = tuple(Row(seat, _cells(board, lesson, seat)) for seat in seats)
    counts = tuple(Count(step, sum(row.cells[index].state == PASSED_CELL for row in rows),
                         sum(row.cells[index].state == FAILED_CELL for row in rows), len(rows))
                   for index, step in enumerate(lesson.steps))
    return rows, counts
