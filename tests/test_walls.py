"""The walls' rules, call by call, as the seat engine's authorization plugin receives them (pure: no engine)."""

import base64
import json
import os

import pytest

from dashboard.seat_host.layout import FOLDER
from dashboard.seat_host.walls import Rules, SeatView, refusal


def call(method, uri, body=None, headers=None, raw=None):
    """An AuthZReq as the engine sends it: a JSON body comes with its Content-Type and length."""
    request = {"RequestMethod": method, "RequestUri": uri, "RequestHeaders": dict(headers or {})}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        request["RequestBody"] = base64.b64encode(data).decode()
        request["RequestHeaders"].setdefault("Content-Type", "application/json")
        request["RequestHeaders"].setdefault("Content-Length", str(len(data)))
    else:
        request["RequestHeaders"].setdefault("Content-Length", "0")
    return request


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "docker-workshop"
    (folder / "site").mkdir(parents=True)
    (folder / "site" / "index.html").write_text("hello")
    return folder


@pytest.fixture
def rules(files):
    return Rules(files=files)


def create(rules, host_config=None, **top):
    body = {"Image": "python:3.12-slim", **top}
    if host_config is not None:
        body["HostConfig"] = host_config
    return refusal(rules, call("POST", "/v1.41/containers/create?name=hello", body))


def test_plain_run_and_reads_pass(rules):
    assert create(rules, {"NetworkMode": "default", "PortBindings": {"8000/tcp": [{"HostPort": "8000"}]}}) is None
    assert refusal(rules, call("HEAD", "/_ping")) is None
    assert refusal(rules, call("GET", "/v1.41/containers/json?all=1")) is None
    assert refusal(rules, call("POST", "/v1.41/containers/abc123/start")) is None
    assert refusal(rules, call("POST", "/v1.41/containers/abc123/wait?condition=removed")) is None
    assert refusal(rules, call("DELETE", "/v1.41/containers/hello?force=1")) is None
    assert refusal(rules, call("POST", "/v1.41/images/create?fromImage=python&tag=3.12-slim")) is None
    assert refusal(rules, call("POST", "/v1.41/images/cowserv:latest/tag?repo=cowserv&tag=v2")) is None
    assert refusal(rules, call("DELETE", "/v1.41/images/localhost:5000/cowserv:latest")) is None
    assert refusal(rules, call("POST", "/v1.41/build?t=cowserv&dockerfile=Dockerfile",
                               headers={"Content-Type": "application/x-tar", "Content-Length": "2048"})) is None
    assert refusal(rules, call("POST", "/v1.41/images/load?quiet=1",
                               headers={"Content-Type": "application/x-tar", "Content-Length": "99999999"})) is None
    assert refusal(rules, call("POST", "/v1.41/containers/abc/exec", {"Cmd": ["sh"], "Tty": True})) is None
    assert refusal(rules, call("POST", "/v1.41/exec/e1/start", {"Detach": False, "Tty": True})) is None
    assert refusal(rules, call("POST", "/v1.41/volumes/create", {"Name": "data", "Driver": "local"})) is None
    assert refusal(rules, call("POST", "/v1.41/networks/create", {"Name": "app_default", "Driver": "bridge"})) is None
    assert refusal(rules, call("POST", "/v1.41/containers/prune")) is None
    assert refusal(rules, call("POST", "/v1.41/containers/abc/update", {"Memory": 100_000_000})) is None


def test_the_seats_own_folder_and_volumes_mount(rules, files):
    assert create(rules, {"Binds": [f"{FOLDER}/site:/usr/share/nginx/html:ro"]}) is None
    assert create(rules, {"Binds": [f"{FOLDER}:/work"]}) is None
    assert create(rules, {"Binds": ["data:/var/lib/postgresql/data", "/anonymous"]}) is None
    assert create(rules, {"Binds": [f"{FOLDER}/not-yet/made:/x"]}) is None  # the engine makes it, inside
    assert create(rules, {"Mounts": [{"Type": "bind", "Source": f"{FOLDER}/site", "Target": "/site"},
                                     {"Type": "volume", "Source": "data", "Target": "/data"},
                                     {"Type": "tmpfs", "Target": "/tmp"}]}) is None


def test_a_symlink_inside_the_folder_to_inside_it_mounts(rules, files):
    os.symlink("site", files / "relative")
    os.symlink(f"{FOLDER}/site", files / "absolute")
    (files / "deep").mkdir()
    os.symlink("../site", files / "deep" / "up")
    for name in ("relative", "absolute", "deep/up"):
        assert create(rules, {"Binds": [f"{FOLDER}/{name}:/site"]}) is None, name


@pytest.mark.parametrize("target", ["/", "/etc", "..", "../..", f"{FOLDER}/../..", "/proc/self/root",
                                    "/home/student", "/run/docker.sock"])
def test_a_symlink_inside_the_folder_to_outside_it_is_refused(rules, files, target):
    os.symlink(target, files / "escape")
    why = create(rules, {"Binds": [f"{FOLDER}/escape:/host"]})
    assert why.startswith(f"-v {FOLDER}/escape:/host is not allowed on a seat: only files inside {FOLDER}"), why
    why = create(rules, {"Mounts": [{"Type": "bind", "Source": f"{FOLDER}/escape/x", "Target": "/h"}]})
    assert "is not allowed on a seat" in why


def test_symlink_chains_and_loops(rules, files):
    os.symlink("b", files / "a")
    os.symlink("c", files / "b")
    os.symlink("/etc", files / "c")
    assert "not allowed" in create(rules, {"Binds": [f"{FOLDER}/a:/x"]})
    os.symlink("loop2", files / "loop1")
    os.symlink("loop1", files / "loop2")
    assert "too many symbolic links" in create(rules, {"Binds": [f"{FOLDER}/loop1:/x"]})


@pytest.mark.parametrize("source", ["/", "/etc", "/var/run/docker.sock", "/run/docker.sock", "/home/student",
                                    f"{FOLDER}/..", f"{FOLDER}/../../../etc", f"{FOLDER}/site/../../x",
                                    f"{FOLDER}-other", f"{FOLDER}/not-yet/../../../etc", "/proc/1/root",
                                    f"/proc/self/cwd/../../..{FOLDER}"])
def test_bind_mounts_outside_the_folder_are_refused(rules, source):
    assert "is not allowed on a seat" in create(rules, {"Binds": [f"{source}:/host"]})
    assert "is not allowed on a seat" in create(rules, {"Mounts": [{"Type": "bind", "Source": source,
                                                                     "Target": "/host"}]})


def test_relative_and_odd_binds_are_refused(rules):
    assert "name a volume, or a folder inside" in create(rules, {"Binds": ["./site:/site"]})
    assert "name a volume, or a folder inside" in create(rules, {"Binds": ["site/x:/site"]})
    assert "not a volume the engine understands" in create(rules, {"Binds": ["/a:/b:ro:x"]})
    assert "not text" in create(rules, {"Binds": [{"src": "/"}]})
    assert "not a list" in create(rules, {"Binds": "/etc:/x"})


def test_sockets_in_the_folder_are_refused(rules, files):
    import socket
    path = files / "engine.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        assert "sockets and devices" in create(rules, {"Binds": [f"{FOLDER}/engine.sock:/var/run/x.sock"]})
    assert "docker socket" in create(rules, {"Binds": [f"{FOLDER}/docker.sock:/x"]})


@pytest.mark.parametrize("host_config, flag", [
    ({"Privileged": True}, "--privileged"),
    ({"PidMode": "host"}, "--pid host"),
    ({"IpcMode": "host"}, "--ipc host"),
    ({"UTSMode": "host"}, "--uts host"),
    ({"UsernsMode": "host"}, "--userns host"),
    ({"CgroupnsMode": "host"}, "--cgroupns host"),
    ({"NetworkMode": "host"}, "--network host"),
    ({"Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda", "CgroupPermissions": "rwm"}]},
     "--device"),
    ({"DeviceCgroupRules": ["b 8:* rmw"]}, "--device-cgroup-rule"),
    ({"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]}, "--gpus"),
    ({"CapAdd": ["SYS_ADMIN"]}, "--cap-add"),
    ({"Capabilities": ["CAP_SYS_ADMIN"]}, "--cap-add"),
    ({"SecurityOpt": ["seccomp=unconfined"]}, "--security-opt seccomp=unconfined"),
    ({"SecurityOpt": ["apparmor=unconfined"]}, "--security-opt apparmor=unconfined"),
    ({"Sysctls": {"net.ipv4.ip_forward": "1"}}, "--sysctl"),
    ({"Runtime": "runsc"}, "--runtime runsc"),
    ({"CgroupParent": "/"}, "--cgroup-parent"),
    ({"LogConfig": {"Type": "journald", "Config": {}}}, "--log-driver journald"),
    ({"LogConfig": {"Type": "syslog", "Config": {"syslog-address": "tcp://10.0.0.1:514"}}}, "--log-driver syslog"),
    ({"VolumeDriver": "sshfs"}, "--volume-driver sshfs"),
    ({"MaskedPaths": []}, "unmasking /proc"),
    ({"ReadonlyPaths": []}, "a writable /proc"),
    ({"OomScoreAdj": -1000}, "--oom-score-adj"),
])
def test_host_settings_are_refused_with_the_flag_the_student_typed(rules, host_config, flag):
    why = create(rules, host_config)
    assert why is not None and why.startswith(f"{flag} is not allowed on a seat"), why


def test_harmless_settings_pass(rules):
    assert create(rules, {"SecurityOpt": ["no-new-privileges"], "Runtime": "runc", "CapDrop": ["ALL"],
                          "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
                          "PidMode": "container:abc", "NetworkMode": "bridge", "UsernsMode": "",
                          "MaskedPaths": None, "OomScoreAdj": 500}) is None


def test_settings_hidden_from_a_naive_reader_are_still_seen(rules):
    """Go's JSON decoder folds case (with Unicode: "ſ" is "s"), lets the last duplicate win, and the create call
    takes host settings at the top level too (old clients)."""
    assert "--privileged" in create(rules, None, Privileged=True)
    assert "--privileged" in create(rules, {"privileged": True})
    assert "--privileged" in create(rules, {"PRIVILEGED": 1})
    assert "--security-opt" in create(rules, {"ſecurityOpt": ["seccomp=unconfined"]})
    raw = b'{"Image":"x","HostConfig":{"Privileged":true,"Privileged":false}}'
    assert "--privileged" in refusal(rules, call("POST", "/containers/create", raw=raw))
    assert "is not allowed on a seat" in create(rules, None, Binds=["/etc:/x"])
    assert "--network host" in create(rules, None, NetworkingConfig={"EndpointsConfig": {"host": {}}})


def test_volume_options_that_bind_the_host_are_refused(rules):
    why = refusal(rules, call("POST", "/v1.41/volumes/create",
                              {"Name": "etc", "Driver": "local",
                               "DriverOpts": {"type": "none", "o": "bind", "device": "/etc"}}))
    assert why.startswith("volume options (device, o, type) are not allowed on a seat"), why
    assert "--driver" in refusal(rules, call("POST", "/volumes/create", {"Name": "x", "Driver": "sshfs"}))
    mount = {"Type": "volume", "Source": "etc", "Target": "/etc2",
             "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": {"device": "/etc", "o": "bind"}}}}
    assert "volume options (device, o) are not" in create(rules, {"Mounts": [mount]})
    assert "--mount" in create(rules, {"Mounts": [{"Type": "npipe", "Source": "x", "Target": "/x"}]})
    assert "shared mount propagation" in create(
        rules, {"Mounts": [{"Type": "bind", "Source": FOLDER, "Target": "/x",
                            "BindOptions": {"Propagation": "rshared"}}]})
    assert "shared mount propagation" in create(rules, {"Binds": [f"{FOLDER}:/x:rw,rshared"]})


def test_imports_and_builds_that_reach_out_are_refused(rules):
    assert "docker import from a URL" in refusal(
        rules, call("POST", "/v1.41/images/create?fromSrc=http%3A%2F%2F10.0.0.1%2Fx.tar&repo=x"))
    assert refusal(rules, call("POST", "/v1.41/images/create?fromSrc=-&repo=x",
                               headers={"Content-Type": "text/plain", "Content-Length": "10"})) is None
    tar = {"Content-Type": "application/x-tar", "Content-Length": "1024"}
    for query, words in [("remote=https://github.com/x/y.git", "from a URL or a git repository"),
                         ("networkmode=host", "--network host"), ("version=2", "BuildKit"),
                         ("session=abc", "BuildKit"), ("cgroupparent=/", "--cgroup-parent"),
                         ("securityopt=seccomp%3Dunconfined", "--security-opt")]:
        why = refusal(rules, call("POST", f"/v1.41/build?t=x&{query}", headers=tar))
        assert why is not None and words in why, (query, why)


@pytest.mark.parametrize("method, uri", [
    ("GET", "/v1.41/plugins/privileges?remote=vieux/sshfs"), ("POST", "/v1.41/plugins/pull?remote=vieux/sshfs"),
    ("POST", "/v1.41/swarm/init"), ("POST", "/v1.41/services/create"), ("GET", "/v1.41/nodes"),
    ("POST", "/v1.41/secrets/create"), ("POST", "/v1.41/configs/create"), ("GET", "/v1.41/tasks"),
    ("POST", "/session"), ("POST", "/grpc"), ("POST", "/v1.41/containers/abc/copy"),
    ("POST", "/v1.41/debug/x"), ("PATCH", "/v1.41/containers/create"), ("POST", "/v1.41/containers/a/b/start"),
])
def test_closed_areas_and_unknown_writes_are_refused(rules, method, uri):
    assert "not allowed on a seat" in refusal(rules, call(method, uri)) or "not available" in refusal(
        rules, call(method, uri))


def test_plugin_install_is_refused_with_a_reason(rules):
    why = refusal(rules, call("GET", "/v1.41/plugins/privileges?remote=vieux%2Fsshfs"))
    assert why.startswith("docker plugin is not allowed on a seat")


def test_exec_update_network_and_start_walls(rules):
    assert "docker exec --privileged" in refusal(
        rules, call("POST", "/v1.41/containers/abc/exec", {"Cmd": ["sh"], "Privileged": True}))
    assert "--cgroup-parent" in refusal(rules, call("POST", "/containers/abc/update", {"CgroupParent": "/"}))
    assert "--device" in refusal(rules, call("POST", "/containers/abc/update", {"Devices": [{"PathOnHost": "/dev/x"}]}))
    assert "--driver macvlan" in refusal(
        rules, call("POST", "/v1.41/networks/create", {"Name": "x", "Driver": "macvlan",
                                                       "Options": {"parent": "eth0"}}))
    assert "--driver ipvlan" in refusal(rules, call("POST", "/networks/create", {"Name": "x", "Driver": "ipvlan"}))
    assert "--network host" in refusal(rules, call("POST", "/v1.41/networks/host/connect", {"Container": "abc"}))
    assert "--privileged" in refusal(rules, call("POST", "/v1.23/containers/abc/start", {"Privileged": True}))
    assert "is not allowed on a seat" in refusal(rules, call("POST", "/v1.23/containers/abc/start",
                                                             {"Binds": ["/:/host"]}))


def test_bodies_the_plugin_did_not_see_are_refused(rules):
    unseen = {"RequestMethod": "POST", "RequestUri": "/v1.41/containers/create",
              "RequestHeaders": {"Content-Type": "application/json", "Content-Length": "2000000"}}
    assert "too large to check" in refusal(rules, unseen)
    chunked = {"RequestMethod": "POST", "RequestUri": "/v1.41/containers/create",
               "RequestHeaders": {"Content-Type": "application/json"}}
    assert "too large to check" in refusal(rules, chunked)
    assert "not JSON" in refusal(rules, call("POST", "/v1.41/containers/create", raw=b"Image=x"))
    assert "not JSON" in refusal(rules, call("POST", "/v1.41/containers/create", raw=b'{"Image":"x"} {"a":1}'))
    assert "too large to check" in refusal(rules, {**unseen, "RequestUri": "/v1.41/volumes/create"})
    assert "too large to check" in refusal(rules, {**unseen, "RequestUri": "/v1.23/containers/x/start"})
    form = call("POST", "/v1.41/build?t=x", headers={"Content-Type": "application/x-www-form-urlencoded",
                                                     "Content-Length": "20"})
    assert "form bodies" in refusal(rules, form)


def test_version_prefixes_and_encoded_paths(rules):
    privileged = {"HostConfig": {"Privileged": True}}
    assert "--privileged" in refusal(rules, call("POST", "/v1.24/containers/create", privileged))
    assert "--privileged" in refusal(rules, call("POST", "/containers/create", privileged))
    assert "docker plugin" in refusal(rules, call("POST", "/v1.41/%70lugins/pull"))
    assert "not one the docker client sends" in refusal(rules, call("POST", "/v1.41/containers/../plugins/pull"))
    assert "not one the docker client sends" in refusal(rules, call("POST", "/v1.41/containers/x%2F..%2F..%2Fplugins"))
    assert refusal(rules, call("POST", "/v1.41/containers/my%2Dapp/start")) is None


def test_malformed_requests_are_refused_not_crashed(rules):
    for request in [None, [], {}, {"RequestMethod": "POST"}, {"RequestMethod": 1, "RequestUri": "/x"},
                    {"RequestMethod": "POST", "RequestUri": "/containers/create", "RequestBody": "!!!"},
                    {"RequestMethod": "POST", "RequestUri": "/containers/create", "RequestBody": 5},
                    call("POST", "/containers/create", raw=b"\xff\xfe"),
                    call("POST", "/containers/create", ["not", "an", "object"]),
                    call("POST", "/containers/create", {"HostConfig": "yes"}),
                    call("POST", "/containers/create", {"HostConfig": {"Mounts": ["x"]}}),
                    call("POST", "/images/create?fromSrc=%ff")]:
        why = refusal(rules, request)
        assert isinstance(why, str) and why, request


def test_over_the_disk_budget_creates_and_builds_are_refused(files):
    over = Rules(files=files, used=600 * 2**20, budget=512 * 2**20)
    message = "your seat uses 600 of 512 MB: remove images or containers (docker system prune)"
    assert create(over) == message
    tar = {"Content-Type": "application/x-tar", "Content-Length": "1024"}
    for request in [call("POST", "/v1.41/build?t=x", headers=tar), call("POST", "/v1.41/images/create?fromImage=x"),
                    call("POST", "/v1.41/images/load", headers=tar), call("POST", "/v1.41/containers/a/start"),
                    call("POST", "/v1.41/volumes/create", {"Name": "v"}), call("POST", "/v1.41/commit?container=a")]:
        assert refusal(over, request) == message, request["RequestUri"]
    # what frees space still passes
    for request in [call("POST", "/v1.41/containers/prune"), call("POST", "/v1.41/images/prune"),
                    call("DELETE", "/v1.41/images/x"), call("POST", "/v1.41/build/prune"),
                    call("DELETE", "/v1.41/containers/a?v=1"), call("POST", "/v1.41/volumes/prune")]:
        assert refusal(over, request) is None, request["RequestUri"]
    assert create(Rules(files=files, used=100, budget=512 * 2**20)) is None


def test_the_view_resolves_as_the_seat_sees_it(tmp_path):
    files = tmp_path / "f"
    (files / "a").mkdir(parents=True)
    view = SeatView("/home/student/docker-workshop", files)
    assert view.outside("/home/student/docker-workshop/a") is None
    assert view.outside("/home/student/../student/docker-workshop/a") is None
    assert view.outside("/home/student/docker-workshop/a/../..") is not None
    assert view.outside("relative") is not None
    assert view.outside("/" + "a/" * 3000) is not None
