"""The domain's refusals, each with a message a person can act on; the web layer decides how each is answered."""


class EngineError(Exception):
    """Base of the engine's refusals the dashboard shows as a message (the engine answered, and said no)."""


class EngineUnavailable(EngineError):
    """The engine does not answer (gone, not started, or silent past the read timeout)."""


class ContainerNotFound(EngineError):
    """No such lesson container: already gone, or not one of the lesson's."""


class ImageNotFound(EngineError):
    """The image a container would run is not built yet."""


class NameInUse(EngineError):
    """A container name a run would give is already taken."""


class VolumeInUse(EngineError):
    """A volume a container still uses cannot be removed."""


class ToolMissing(EngineError):
    """A program the step runs (Compose) is not installed here."""


class ContainerNotRunning(EngineError):
    """An exec in a stopped container, or a plain `docker rm` of a running one."""


class PortInUse(EngineError):
    """A host port a container or a class would publish is already taken."""


class BuildingAnother(Exception):
    """A build asked for while another lesson's image builds: one build at a time."""


class StepRunning(Exception):
    """A long step pressed while another of the instructor's runs in the background: one at a time."""


class WorkshopUnwritable(Exception):
    """A step's file in the workshop folder cannot be written (no permission, a folder in its place)."""


class SeatFolderBlocked(WorkshopUnwritable):
    """A seat's folder cannot be written or read as its student (a symbolic link in the way, its disk full): the
    student can put it right."""


class EverySeatRunning(Exception):
    """A run on every seat, a sweep of every seat's things or a new room asked for while a run on every seat goes
    on."""


class SeatBusy(Exception):
    """A seat's press while its previous press still runs: one press per seat at a time."""


class BuildQueueFull(Exception):
    """A seat's build that waited its longest for the seats' build turn: the others' builds took it meanwhile."""


class ClassOver(Exception):
    """A seat's press that would start once its class is over, the next room open or its link changed (it waited
    meanwhile): nothing is done."""
