"""The lesson itself, with no web framework in it: the engine, builds, the class, the transcript, the commands shown."""
