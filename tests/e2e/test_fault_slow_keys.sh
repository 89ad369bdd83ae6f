#!/usr/bin/env bash
# A slow key service must not refuse a first login.  Users' keys come
# only from a URL key source whose every answer takes 300 ms; 30 users
# each log in once with OpenSSH (a cold cache for each).  OpenSSH probes
# with "none" first, so the gateway has the user's name early, pauses
# that client until the keys arrive and answers the publickey request
# with them (README, "Authentication"): every first login must succeed.
# A second round (warm cache) must succeed too.
. "$(dirname "$0")/lib.sh"

USERS=${JG_SLOW_KEYS_USERS:-30}
jg_keygen alice
mkdir -p "$T/www"
for i in $(seq "$USERS"); do cp "$T/alice.pub" "$T/www/k$i.keys"; done
HPORT=$(jg_free_port 127.0.0.1 20000 29999)
python3 "$JG_TOOLS/keyserver.py" "$T/www" "$HPORT" --delay 0.3 \
    --ready "$T/keys.ready" 2>"$T/keys.log" &
JG_PIDS+=("$!")
check "the slow key service listens" jg_wait_log "$T/keys.ready" "^listening"
echo "items: []" >"$T/routes.yaml"
GW_PORT=$(jg_free_port 127.0.0.1 20000 29999)
cat >"$T/jumpgate.yaml" <<CFG
listen:
  - address: 127.0.0.1
    port: $GW_PORT
host_keys:
  paths: [$T/gw_host_ed25519_key]
  generate: true
users:
  key_sources:
    - type: url
      url: "http://127.0.0.1:$HPORT/%u.keys"
      timeout_ms: 5000
      cache_ttl_s: 600
routes:
  source: static
  static_file: $T/routes.yaml
limits:
  penalty_failures: 1000
logging:
  level: verbose
CFG
jg_start_gateway "$T/jumpgate.yaml" || { fail "gateway starts"; jg_done; }
jg_ssh_config "$T/ssh_alice" "$T/alice"

round() {	# round TAG: one login per user; prints the failed users
	local i
	for i in $(seq "$USERS"); do
		timeout 30 ssh -F "$T/ssh_alice" -p "$GW_PORT" "k$i@127.0.0.1" help \
		    >"$T/$1-$i.out" 2>"$T/$1-$i.err"
		grep -q "jumpgate commands" "$T/$1-$i.out" || echo "k$i"
	done
}
cold=$(round cold | tr '\n' ' ')
n=$(wc -w <<<"$cold")
echo "# cold cache: $n of $USERS first logins refused${cold:+: $cold}"
check "every first login succeeds while the keys are fetched ($n of $USERS refused)" [ "$n" -eq 0 ]
if [ "$n" -gt 0 ]; then
	u=$(awk '{ print $1 }' <<<"$cold")
	echo "# $u's client said: $(head -n 1 "$T/cold-${u#k}.err")"
	grep -E " $u from " "$GW_LOG" | head -4 | sed 's/^/#   /'
	grep -E "(Connection closed by authenticating user $u |keys: fetch .*/$u\\.keys)" "$GW_LOG" |
	    head -2 | sed 's/^/#   /'
fi
warm=$(round warm | tr '\n' ' ')
check "with the keys cached every login succeeds (refused: ${warm:-none})" [ -z "$warm" ]
jg_check_log_clean
jg_done
