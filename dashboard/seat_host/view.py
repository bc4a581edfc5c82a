"""What a seat's engine and shell see of the machine: a root built inside a mount namespace of their own, pivoted
into, showing only /usr (read-only), a generated /etc, a /proc of the engine's own pid namespace (kernel settings
read-only but its network's), /sys read-only but the seat's containers' cgroups, a minimal /dev, the seat's /run,
its data root as /var/lib/docker, a private /tmp and the seat's folder as /home/student/docker-workshop. Nothing
else of the host: no /tmp, no checkout, no instance folder (the instructor's secret), no /root, no /etc/shadow, no
host process. This is the second wall: what the walls' plugin misses still finds only this.

The mounts live only in that namespace (slave: the host's unmounts reach it, nothing of it reaches the host), so
they go when its last process does, and the host's side of the seat's folder has nothing mounted under it."""

import shutil
from pathlib import Path

from .cgroups import CONTAINERS
from .layout import CGROUP_ROOT, CONTROLLERS, FOLDER, HOME

# Copied from the host's /etc when present: what the engine, its iptables, bash, nano and TLS need; never secrets.
ETC_COPIED = ("alternatives", "ssl", "ca-certificates.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
              "protocols", "services", "ethertypes", "rpc", "inputrc", "nanorc", "os-release", "debian_version",
              "mime.types", "gai.conf", "host.conf", "terminfo", "bash_completion", "bash_completion.d",
              "profile.d", "xattr.conf", "iproute2")

# Run by /bin/sh inside `unshare --mount --uts --pid`, in the seat's network namespace: $1 the empty mount point,
# $2 the seat's folder, $3 its data root, $4 its run folder, $5 its generated etc, $6 its uid, $7 its name; then the
# engine's argv.
BUILD = r"""
set -eu
root=$1 files=$2 data=$3 run=$4 etc=$5 uid=$6 name=$7
shift 7
echo "$name" >/proc/sys/kernel/hostname
mount -t tmpfs -o mode=0755,size=16m,nosuid,nodev cowserv-view "$root"
cd "$root"
mkdir -p usr etc proc sys dev run tmp var/lib/docker home .host
ln -s usr/bin bin; ln -s usr/sbin sbin; ln -s usr/lib lib
[ ! -e /lib64 ] || ln -s usr/lib64 lib64
ln -s /run var/run
mount --bind /usr usr
mount -o remount,bind,ro usr
cp -a "$etc/." etc/
mount -t proc -o nosuid,nodev,noexec proc proc
# The kernel's settings read-only (a missed `-v /proc:/x` cannot set core_pattern); the seat's own network's stay
# writable for its engine (they are its network namespace's).
for place in sys sysrq-trigger irq bus; do
  [ -e "proc/$place" ] || continue
  mount --bind "proc/$place" "proc/$place"
  mount -o remount,bind,ro "proc/$place"
done
mount --bind proc/sys/net proc/sys/net
mount -o remount,bind,rw proc/sys/net
# sysfs and whatever is mounted in it read-only, but the cgroup v1 hierarchies the engine makes its cgroups in.
mount --rbind /sys sys
mount --make-rslave sys
awk -v top="$root/sys" '($2 == top || index($2, top "/") == 1) && $3 != "cgroup" && $3 != "cgroup2" {print $2}' \
  /proc/self/mounts |
  while read -r point; do mount -o remount,bind,ro "$point"; done
# In each cgroup hierarchy only the seat's containers' cgroups writable: not the seat's limits, nor anything else.
awk -v top="$root/sys/fs/cgroup/" 'index($2, top) == 1 && ($3 == "cgroup" || $3 == "cgroup2") {print $2}' \
  /proc/self/mounts |
  while read -r point; do
    mount --bind "$point/CONTAINERS" "$point/CONTAINERS"
    mount -o remount,bind,ro "$point"
  done
mount -t tmpfs -o mode=0755,size=1m,nosuid,noexec cowserv-dev dev
for node in null zero full random urandom tty; do
  touch "dev/$node"
  mount --bind "/dev/$node" "dev/$node"
done
mkdir dev/pts dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts dev/pts
ln -s pts/ptmx dev/ptmx
ln -s /proc/self/fd dev/fd
ln -s /proc/self/fd/0 dev/stdin; ln -s /proc/self/fd/1 dev/stdout; ln -s /proc/self/fd/2 dev/stderr
mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev cowserv-shm dev/shm
mount --bind "$run" run
mount --bind "$data" var/lib/docker
mount -t tmpfs -o mode=1777,size=256m,nosuid,nodev cowserv-tmp tmp
mount -t tmpfs -o mode=0755,size=32m,nosuid,nodev cowserv-home home
mkdir -p "home/student/docker-workshop"
chown "$uid:$uid" home/student
chmod 0750 home/student
mount --bind "$files" home/student/docker-workshop
# Whatever a container writes into the folder (a device node, a setuid file: containers keep CAP_MKNOD) stays inert
# for the shell and for every other container; and no symbolic link in it is followed, by the engine either: a bind
# source the walls checked cannot be swapped for a link to the engine's own sockets before the container starts.
mount -o remount,bind,nosuid,nodev,nosymfollow home/student/docker-workshop
pivot_root . .host
cd /
umount -l /.host
rmdir /.host
exec "$@"
""".replace("CONTAINERS", f"{CGROUP_ROOT}/$name/{CONTAINERS}")

# Run by /bin/sh on the host first: $1 the cgroup (under each controller) the engine runs in; then the argv to exec.
JOIN = r"""
for controller in CONTROLLERS; do echo $$ >"/sys/fs/cgroup/$controller/ROOT/$1/cgroup.procs"; done
shift
exec "$@"
""".replace("CONTROLLERS", " ".join(CONTROLLERS)).replace("ROOT", CGROUP_ROOT)
assert FOLDER == HOME + "/docker-workshop"

PROFILE = """\
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ -n "${BASH_VERSION:-}" ] && [ -f /etc/bash.bashrc ]; then . /etc/bash.bashrc; fi
"""

BASHRC = r"""
[ -z "${PS1:-}" ] && return
shopt -s checkwinsize histappend
PS1='\[\e[1;32m\]\u@\h\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ '
if [ -f /usr/share/bash-completion/bash_completion ]; then . /usr/share/bash-completion/bash_completion; fi
alias ls='ls --color=auto'
"""


def etc_folder(place):
    """Where the view's /etc is generated on the host (copied into the view when the engine starts)."""
    return place.dir / "etc"


def write_etc(place, host_etc=Path("/etc")):
    """Generate the seat's /etc: root and the student (the seat's uid and gid), hosts, DNS, and what tools need."""
    etc = etc_folder(place)
    if etc.exists():
        shutil.rmtree(etc)
    etc.mkdir(parents=True)
    for name in ETC_COPIED:
        source = host_etc / name
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, etc / name, symlinks=True)
        elif source.exists() or source.is_symlink():
            shutil.copy2(source, etc / name, follow_symlinks=False)
    resolv = host_etc / "resolv.conf"
    (etc / "resolv.conf").write_text(resolv.read_text() if resolv.exists() else "nameserver 127.0.0.1\n")
    uid = place.uid
    (etc / "passwd").write_text(f"root:x:0:0:root:/root:/bin/bash\n"
                                f"student:x:{uid}:{uid}:student:{HOME}:/bin/bash\n"
                                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    (etc / "group").write_text(f"root:x:0:\ntty:x:5:\nstudent:x:{uid}:\nnogroup:x:65534:\n")
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{place.name}\n::1\tlocalhost ip6-localhost\n")
    (etc / "hostname").write_text(place.name + "\n")
    (etc / "nsswitch.conf").write_text("passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                                       "networks: files\nprotocols: files\nservices: files\n")
    (etc / "profile").write_text(PROFILE)
    (etc / "bash.bashrc").write_text(BASHRC)
    (etc / "mtab").symlink_to("../proc/self/mounts")
    etc.chmod(0o755)
    return etc


def start_argv(place, netns_path, cgroup, engine_argv):
    """The argv that starts the seat's engine: in `cgroup` (under cowserv-seats), inside the seat's network
    namespace, in new mount, UTS and pid namespaces (its /proc shows the seat's processes only, never the host's),
    builds the view, pivots into it and runs `engine_argv` (dockerd) under docker-init (tini, the namespace's pid 1,
    which reaps the shims dockerd leaves to it). The process started stays `unshare`, waiting: its child is that
    pid 1, and its death takes the whole namespace with it (--kill-child)."""
    return ["/bin/sh", "-c", JOIN, "cowserv-seat-engine", cgroup,
            "nsenter", f"--net={netns_path}",
            "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--propagation", "slave", "--",
            "/bin/sh", "-c", BUILD, "cowserv-seat-view", str(place.root), str(place.files), str(place.data),
            str(place.run), str(etc_folder(place)), str(place.uid), place.name,
            INIT, "--", *engine_argv]


INIT = "/usr/bin/docker-init"
