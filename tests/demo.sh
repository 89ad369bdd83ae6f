#!/usr/bin/env bash
# demo.sh: THE set-up-and-run command.  Installs what is missing, builds
# jumpgate, and runs it on its embedded default: the static routes file
# config/routes.yaml, whose one job "demojob" (user "demo") is served by a
# real OpenSSH sshd on 127.0.0.2 port 32022 standing in for the pod.
# jumpgate listens on 127.0.0.1 port 2222 in the foreground; Ctrl-C stops
# everything this script started.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${JG_BUILD_DIR:-$top/build}
GW_ADDR=127.0.0.1
GW_PORT=${JG_DEMO_PORT:-2222}
POD_ADDR=127.0.0.2
POD_PORT=32022		# as written in config/routes.yaml

"$here/install-deps.sh"
cmake -S "$top" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
JG="$build/jumpgate"

D=$(mktemp -d "${TMPDIR:-/tmp}/jumpgate-demo.XXXXXX")
chmod 700 "$D"
pids=()
stop_all() {
	trap - INT TERM EXIT
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$D"
	echo "demo stopped; removed $D"
}
trap stop_all INT TERM EXIT

ME=$(id -un)
ssh-keygen -q -t ed25519 -N '' -C demo-user -f "$D/demo_key" </dev/null
mkdir -p "$D/users"
cp "$D/demo_key.pub" "$D/users/demo.keys"
cp "$D/demo_key.pub" "$D/pod_authorized_keys"

# The pod: a real sshd.  As root it lets root in by key; as a normal user
# it can only log that user in, which is all the demo needs.
ssh-keygen -q -t ed25519 -N '' -f "$D/pod_host_key" </dev/null
cat >"$D/pod_sshd_config" <<CFG
ListenAddress $POD_ADDR:$POD_PORT
HostKey $D/pod_host_key
PidFile none
AuthorizedKeysFile $D/pod_authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
CFG
if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; fi
/usr/sbin/sshd -D -e -f "$D/pod_sshd_config" 2>"$D/pod.log" &
pids+=($!)

cat >"$D/jumpgate.yaml" <<CFG
# Demo configuration written by tests/demo.sh.
listen:
  - address: $GW_ADDR
    port: $GW_PORT
host_keys:
  paths: [$D/ssh_host_ed25519_key]
  generate: true
users:
  key_sources:
    - type: authorized_keys
      path: "$D/users/%u.keys"
routes:
  source: static
  static_file: $top/config/routes.yaml
CFG

cat >"$D/ssh_config" <<CFG
# Paste these into ~/.ssh/config (VSCode Remote-SSH reads that file).
Host jumpgate-demo
  HostName $GW_ADDR
  Port $GW_PORT
  User demo
Host demojob
  User $ME
  ProxyJump jumpgate-demo
Host *
  IdentityFile $D/demo_key
  IdentitiesOnly yes
  UserKnownHostsFile $D/known_hosts
  StrictHostKeyChecking accept-new
CFG

"$JG" -t -f "$D/jumpgate.yaml" >/dev/null 2>&1 || true
cat <<MSG

jumpgate demo
  gateway   $GW_ADDR port $GW_PORT (jumpgate, foreground, log below)
  job       demojob of user "demo" (internal name jpt-demo-251121-0a1b2)
  pod sshd  $POD_ADDR port $POD_PORT, from config/routes.yaml
  scratch   $D (removed on Ctrl-C)

Try these in another terminal:
  jump mode:   ssh -F $D/ssh_config -J jumpgate-demo $ME@demojob
  ProxyJump:   ssh -F $D/ssh_config demojob
  your jobs:   ssh -F $D/ssh_config jumpgate-demo
  direct mode: ssh -F $D/ssh_config -p $GW_PORT demo+demojob@$GW_ADDR
  an error:    ssh -F $D/ssh_config -J jumpgate-demo $ME@nosuchjob
VSCode Remote-SSH: add the Host entries of $D/ssh_config to
~/.ssh/config and connect to "demojob".
Ctrl-C stops the gateway and the pod.

MSG
"$JG" -D -e -f "$D/jumpgate.yaml" &
pids+=($!)
wait "${pids[-1]}"
