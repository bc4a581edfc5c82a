"""The host's side of seats with Docker engines of their own: for each seat a `dockerd` in its own network and mount
namespaces, under a cgroup with the seat's limits, behind an authorization plugin (the walls), and a confined shell
for its terminal. Root only; no Flask here. See docs/architecture.md (Seat engines)."""
