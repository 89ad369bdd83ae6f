#!/usr/bin/env bash
# Direct mode moving data: a 256 MiB stream each way (sha256-checked, the
# rate printed), scp (sftp and legacy protocol), sftp, rsync, and port
# forwarding through the gateway's own login to the pod: ssh -L, -D with
# curl --socks5-hostname, -R (fixed and dynamic port), and a VSCode
# Remote-SSH style session (ssh -T -D PORT ... bash, a script on stdin
# that starts a listener in the pod, then a connection through SOCKS).
. "$(dirname "$0")/lib.sh"

jg_direct_gateway
mkdir -p "$T/www"
jg_ssh_config "$T/ssh_alice" "$T/alice"
S=(-F "$T/ssh_alice" -p "$GW_PORT")
DST="alice+myjob@127.0.0.1"

# ---- 256 MiB each way ----
SIZE=$((256 * 1024 * 1024))
GEN="openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:jumpgate </dev/zero 2>/dev/null | head -c $SIZE"
want=$(bash -c "$GEN" | sha256sum | cut -d' ' -f1)
rate() { awk -v b="$SIZE" -v ms="$1" 'BEGIN { printf "%.0f", b / 1048576 / (ms / 1000) }'; }
start=$(jg_now_ms)
up=$(bash -c "$GEN" | timeout 120 ssh "${S[@]}" "$DST" sha256sum | cut -d' ' -f1)
ms=$(( $(jg_now_ms) - start ))
check "256 MiB client -> pod arrives intact" [ "$up" = "$want" ]
echo "# upload: $(rate "$ms") MiB/s ($ms ms)"
start=$(jg_now_ms)
down=$(timeout 120 ssh "${S[@]}" "$DST" "$GEN" | sha256sum | cut -d' ' -f1)
ms=$(( $(jg_now_ms) - start ))
check "256 MiB pod -> client arrives intact" [ "$down" = "$want" ]
echo "# download: $(rate "$ms") MiB/s ($ms ms)"

# ---- files ----
head -c 3000000 /dev/urandom >"$T/blob"
scp -q "${S[@]/-p/-P}" "$T/blob" "$DST:$T/blob.scp" 2>"$T/err"
check "scp (sftp protocol) copies a file intact" cmp -s "$T/blob" "$T/blob.scp"
jg_show "$T/err"
scp -q -O "${S[@]/-p/-P}" "$DST:$T/blob.scp" "$T/blob.scp-O" 2>"$T/err"
check "scp -O (legacy scp protocol) copies a file intact" cmp -s "$T/blob" "$T/blob.scp-O"
printf 'put %s %s\nget %s %s\n' "$T/blob" "$T/blob.sftp" "$T/blob.sftp" "$T/blob.back" >"$T/sftp.batch"
sftp -q "${S[@]/-p/-P}" -b "$T/sftp.batch" "$DST" >/dev/null 2>"$T/err"
check "sftp puts and gets a file intact" cmp -s "$T/blob" "$T/blob.back"
mkdir -p "$T/tree/a/b"
head -c 100000 /dev/urandom >"$T/tree/a/b/f1"
echo small >"$T/tree/f2"
rsync -a -e "ssh ${S[*]}" "$T/tree/" "$DST:$T/tree.rsync/" 2>"$T/err"
check "rsync -e 'ssh -F ...' copies a tree" diff -r "$T/tree" "$T/tree.rsync"
jg_show "$T/err"

# ---- port forwarding ----
echo "hello-from-the-pod-web" >"$T/www/index.txt"
HPORT=$(jg_free_port 127.0.0.1 20000 29999)
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$HPORT" \
    >/dev/null 2>&1 &
JG_PIDS+=("$!")
jg_wait_port 127.0.0.1 "$HPORT"

LPORT=$(jg_free_port 127.0.0.1 20000 29999)
timeout 60 ssh "${S[@]}" -N -L "127.0.0.1:$LPORT:127.0.0.1:$HPORT" "$DST" 2>"$T/L.err" &
l_pid=$!
JG_PIDS+=("$l_pid")
jg_wait_port 127.0.0.1 "$LPORT"
out=$(curl -s --max-time 10 "http://127.0.0.1:$LPORT/index.txt")
check "ssh -L reaches a server on the pod's loopback" [ "$out" = hello-from-the-pod-web ]
out=$(curl -s --max-time 10 "http://127.0.0.1:$LPORT/index.txt")
check "ssh -L: a second connection over the same login" [ "$out" = hello-from-the-pod-web ]
jg_stop "$l_pid"

DPORT=$(jg_free_port 127.0.0.1 20000 29999)
timeout 60 ssh "${S[@]}" -N -D "127.0.0.1:$DPORT" "$DST" 2>"$T/D.err" &
d_pid=$!
JG_PIDS+=("$d_pid")
jg_wait_port 127.0.0.1 "$DPORT"
out=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$DPORT" "http://localhost:$HPORT/index.txt")
check "ssh -D: curl --socks5-hostname reaches the pod's localhost" [ "$out" = hello-from-the-pod-web ]
CLOSED=$(jg_free_port 127.0.0.1 20000 29999)
curl -s --max-time 10 --socks5-hostname "127.0.0.1:$DPORT" "http://localhost:$CLOSED/" >/dev/null 2>&1
rc=$?
check "ssh -D to a closed port in the pod fails the SOCKS request (curl $rc)" [ $rc -ne 0 ]
jg_stop "$d_pid"

RPORT=$(jg_free_port 127.0.0.1 20000 29999)
timeout 60 ssh "${S[@]}" -N -o ExitOnForwardFailure=yes \
    -R "127.0.0.1:$RPORT:127.0.0.1:$HPORT" "$DST" 2>"$T/R.err" &
r_pid=$!
JG_PIDS+=("$r_pid")
check "ssh -R: the pod listens on the forwarded port" jg_wait_port 127.0.0.1 "$RPORT"
out=$(timeout 30 ssh "${S[@]}" "$DST" "curl -s --max-time 10 http://127.0.0.1:$RPORT/index.txt" 2>/dev/null)
check "ssh -R: a connection made in the pod comes back to the client" [ "$out" = hello-from-the-pod-web ]
jg_stop "$r_pid"

# "Allocated port" is an INFO message: the shared config says ERROR.
timeout 60 ssh "${S[@]}" -N -o ExitOnForwardFailure=yes -o LogLevel=INFO \
    -R "127.0.0.1:0:127.0.0.1:$HPORT" "$DST" 2>"$T/R0.err" &
r0_pid=$!
JG_PIDS+=("$r0_pid")
jg_wait_log "$T/R0.err" "Allocated port [0-9]+" >/dev/null
dyn=$(grep -oE "Allocated port [0-9]+" "$T/R0.err" | awk '{print $3}')
check "ssh -R with port 0: the client is told the port the pod picked" [ -n "$dyn" ]
out=$(curl -s --max-time 10 "http://127.0.0.1:${dyn:-1}/index.txt")
check "ssh -R with port 0: that port leads back to the client" [ "$out" = hello-from-the-pod-web ]
jg_stop "$r0_pid"

# ---- VSCode Remote-SSH, simulated ----
# VSCode runs `ssh -T -D PORT host bash`, writes a script to bash's
# stdin that starts its server on a random port in the pod and prints
# it, then reaches that server through the SOCKS port.
cat >"$T/vscode.sh" <<'SCRIPT'
echo "vscode-server starting"
python3 -u -c '
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
        self.wfile.write(b"vscode-server-ok\n")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("listeningOn==%d==" % s.server_port, flush=True)
s.handle_request()
'
echo "vscode-server done"
SCRIPT
VPORT=$(jg_free_port 127.0.0.1 20000 29999)
timeout 60 ssh "${S[@]}" -T -D "127.0.0.1:$VPORT" "$DST" bash \
    <"$T/vscode.sh" >"$T/vscode.out" 2>"$T/vscode.err" &
v_pid=$!
JG_PIDS+=("$v_pid")
jg_wait_log "$T/vscode.out" "listeningOn==[0-9]+==" >/dev/null
sport=$(grep -oE "listeningOn==[0-9]+==" "$T/vscode.out" | tr -dc 0-9)
check "VSCode: the server script runs in the pod and reports its port" [ -n "$sport" ]
jg_wait_port 127.0.0.1 "$VPORT" >/dev/null
out=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$VPORT" "http://127.0.0.1:${sport:-1}/")
check "VSCode: the server is reached through the session's SOCKS port" [ "$out" = vscode-server-ok ]
jg_wait_gone "$v_pid" 200
wait "$v_pid"
rc=$?
check "VSCode: the session ends when its script does (exit $rc)" \
	[ $rc -eq 0 ] && grep -q "vscode-server done" "$T/vscode.out"

check "gateway log: one audit line per direct session, with bytes" \
	jg_wait_log "$GW_LOG" "session-end id=[0-9]+ user=alice job=jpt-alice-251121-aaaaa .*mode=direct .*bytes_up=[1-9][0-9]{8}"
jg_check_log_clean
jg_done
