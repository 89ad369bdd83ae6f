#!/usr/bin/env bash
# The command line in the manner of sshd: --version, --help, exit codes,
# and `-t`, which checks config, host keys and route source and lists
# every problem at once.  Also what `cmake --install` puts where.
. "$(dirname "$0")/lib.sh"

out=$("$JUMPGATE" --version)
check "--version prints the version and exits 0" \
	grep -qE "^jumpgate [0-9]+\.[0-9]+\.[0-9]+ \(libssh 0\.10" <<<"$out"
"$JUMPGATE" --help >"$T/help"
check "--help exits 0 and shows -t" grep -q -- "-t " "$T/help"
"$JUMPGATE" -x 2>/dev/null
check "an unknown option exits 2" [ $? -eq 2 ]
"$JUMPGATE" -t -f "$T/nope.yaml" 2>"$T/err"
status=$?
check "a missing config exits 1" [ $status -eq 1 ]
check "a missing config is named with the reason" \
	grep -q "$T/nope.yaml: cannot read: No such file" "$T/err"

out=$("$JUMPGATE" -t -f "$JG_SOURCE_DIR/config/jumpgate.yaml" 2>&1)
status=$?
check "the shipped config/jumpgate.yaml passes -t" [ $status -eq 0 ]
check "-t says configuration OK and nothing else" [ "$out" = "configuration OK" ]
check "-t wrote no host key into the checkout" \
	[ ! -e "$JG_SOURCE_DIR/config/ssh_host_ed25519_key" ]

# Every problem at once: an unsafe host key, a missing one, and a routes
# file with a malformed item.
ssh-keygen -q -t ed25519 -N '' -f "$T/open_key"
chmod 644 "$T/open_key"
cat >"$T/routes.yaml" <<'YAML'
items:
  - kind: Pod
    metadata:
      name: p
      labels: "not a mapping"
YAML
cat >"$T/bad.yaml" <<CFG
host_keys:
  paths: [$T/open_key, $T/missing_key]
  generate: false
routes:
  source: static
  static_file: $T/routes.yaml
CFG
"$JUMPGATE" -t -f "$T/bad.yaml" >"$T/out" 2>"$T/err"
status=$?
check "-t exits 1 when anything is wrong" [ $status -eq 1 ]
check "-t names a readable host key and the fix" \
	grep -q "$T/open_key: .*0644.*chmod 600 $T/open_key" "$T/err"
check "-t names a missing host key" grep -q "$T/missing_key: host key not found" "$T/err"
check "-t names the malformed route item by file:line" \
	grep -qE "$T/routes.yaml:[0-9]+: item 1" "$T/err"
check "-t does not claim OK" [ ! -s "$T/out" ]

# A host key is generated atomically with mode 0600 when allowed.
cat >"$T/gen.yaml" <<CFG
listen: [{address: 127.0.0.1, port: $(jg_free_port 127.0.0.1 20000 29999)}]
host_keys: {paths: [$T/gen_key], generate: true}
routes: {source: static, static_file: $JG_SOURCE_DIR/config/routes.yaml}
users: {key_sources: [{type: authorized_keys, path: "$T/%u.keys"}]}
CFG
jg_start_gateway "$T/gen.yaml"
check "a missing host key is generated with mode 0600" \
	[ "$(stat -c %a "$T/gen_key")" = 600 ]
check "its public half is written beside it" grep -q "^ssh-ed25519 " "$T/gen_key.pub"
check "the start-up log names the host key fingerprint" \
	grep -qE "host key: ED25519 SHA256:" "$GW_LOG"
check "the static routes are loaded at start" grep -q "routes: 1 pods loaded" "$GW_LOG"
jg_stop "$GW_PID"

# cmake --install puts the binary in sbin, config and unit in place.
if [ -n "${JG_BUILD_DIR:-}" ]; then
	cmake --install "$JG_BUILD_DIR" --prefix "$T/prefix" >/dev/null
	check "install: binary in sbin" [ -x "$T/prefix/sbin/jumpgate" ]
	check "install: example config in etc/jumpgate" \
		[ -f "$T/prefix/etc/jumpgate/jumpgate.yaml" ]
	check "install: routes file in etc/jumpgate" [ -f "$T/prefix/etc/jumpgate/routes.yaml" ]
	check "install: systemd unit runs the binary from sbin in the foreground" \
		grep -qE '^ExecStart=/.*/sbin/jumpgate -D -f /.*/jumpgate/jumpgate.yaml$' \
		"$T/prefix/lib/systemd/system/jumpgate.service"
else
	fail "JG_BUILD_DIR is not set: cannot test the install layout"
fi
jg_done
