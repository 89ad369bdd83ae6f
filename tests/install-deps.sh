#!/usr/bin/env bash
# install-deps.sh: installs, with apt-get, every Debian package jumpgate
# needs to build, test and run its demo.  Idempotent: packages already
# present are left alone and apt-get runs only when something is missing.
set -euo pipefail

PACKAGES=(
	# build
	gcc make cmake pkg-config
	libssh-dev libcurl4-openssl-dev libcjson-dev libyaml-dev libssl-dev
	libsystemd-dev libmicrohttpd-dev
	# unit tests
	libcmocka-dev
	# end-to-end tests: real servers and clients
	openssh-server openssh-client dropbear-bin putty-tools
	python3 python3-paramiko rsync curl openssl tmux procps iproute2 strace systemd
	# sanitizer and memory checks, fuzzing, operations tests
	valgrind clang libclang-rt-14-dev fail2ban
)
# The kubectl tests drive the test API server with the real client. Any
# kubectl from 1.20 on works; Debian's kubernetes-client is used only when
# none is installed, since another kubectl package (Google's, say) owns the
# same path.
if ! command -v kubectl >/dev/null 2>&1; then
	PACKAGES+=(kubernetes-client)
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
