#!/usr/bin/env python3
"""A Kubernetes API server for jumpgate's tests (python3 standard library only).

It speaks the real core/v1 REST and watch protocol for pods, services and
nodes closely enough that the real kubectl works against it (see
tests/e2e/test_kube_apiserver_kubectl.sh), and it has a /_test/ control API
for fault injection.  It owns no part of jumpgate; it is a test fixture.
Loopback only.  README.md next to this file says what is faithful and what
is not.

USAGE
  tests/kube/apiserver.py --listen 127.0.0.1:0 --tls-dir DIR --token TOKEN \\
      --port-file F [--token-file FILE] [--state FILE.json] [options]

  Starts, writes the chosen port to F (atomically, once listening), and
  serves until SIGTERM/SIGINT (exit 0; with --state the objects are saved).

  --listen ADDR:PORT     loopback address; port 0 picks a free one.  A restart
                         on the same port works (SO_REUSEADDR).
  --tls-dir DIR          created if needed.  Generated with `openssl` unless
                         already there (so a restart keeps them):
                           ca.crt ca.key            self-signed CA
                           server.crt server.key    for 127.0.0.1, ::1, localhost
                           client.crt client.key    CN=jumpgate, O=crater-gateway
                           kubeconfig               certs embedded (*-data)
                           kubeconfig-paths         same, with file paths
                         Both kubeconfigs have the contexts
                           jumpgate-token     (current) bearer token
                           jumpgate-cert      client certificate
                           jumpgate-insecure  token, insecure-skip-tls-verify
                           jumpgate-tokenfile tokenFile: (only with --token-file)
                         all with namespace --namespace (crater-workspace).
  --plain                serve plain HTTP instead (kubeconfigs say http://).
  --token TOKEN          a valid bearer token.
  --token-file FILE      its current content (stripped) is also valid; re-read
                         on every request, so a test can rotate it.
  --state FILE.json      load objects and the resourceVersion at start, save
                         them after changes and at exit.  After a restart the
                         watch history is empty: a watch from an older RV
                         gets 410, as from a restarted real API server.
  --preload FILE.json    create the objects of {"items": [...]} at start.
  --namespace NS         kubeconfig namespace (crater-workspace).
  --bookmark-interval S  BOOKMARK period for allowWatchBookmarks watches (5).
  --history N            watch history length, events (1000).
  --max-watches N        concurrent watches; more get 429 (64).
  --delete-grace S       pods deleted with a grace period stay Terminating
                         (deletionTimestamp set, MODIFIED) for S seconds (0).
  --lenient              skip object validation (containers, ports, names).
  --no-gzip              never gzip (by default, like the real server,
                         responses over 128 KiB are gzipped when the client
                         sends Accept-Encoding: gzip; watches never are).
  -v, --verbose          one stderr line per request.

AUTHENTICATION
  A client certificate signed by DIR/ca.crt (user = its CN), or
  `Authorization: Bearer T` with T = --token or the token file's content.
  Anything else: 401 {"kind":"Status",...,"reason":"Unauthorized","code":401}.
  /healthz, /livez, /readyz need none.  /_test/ needs none (loopback).

API (core/v1; NS = namespace, R = pods | services; nodes are cluster-scoped)
  GET /version /api /api/v1 /apis /openapi/v2 /openapi/v3 /openapi/v3/api/v1
  GET    /api/v1/R  /api/v1/namespaces/NS/R  /api/v1/nodes          list
         ?labelSelector= &fieldSelector= &limit= &continue= &resourceVersion=
  GET    ...?watch=1 (or true; or /api/v1/watch/...)                 watch
         ?resourceVersion= &allowWatchBookmarks=true &timeoutSeconds=
         &sendInitialEvents=true &labelSelector= &fieldSelector=
  GET    /api/v1/namespaces/NS/R/NAME   /api/v1/nodes/NAME           get
  POST   /api/v1/namespaces/NS/R        /api/v1/nodes                create
  PUT    .../NAME[/status]                                           update
  PATCH  .../NAME[/status]   Content-Type application/merge-patch+json,
         application/strategic-merge-patch+json, application/json-patch+json,
         application/apply-patch+yaml (JSON body; needs ?fieldManager=)
  DELETE .../NAME  (DeleteOptions body or ?gracePeriodSeconds=)
  DELETE /api/v1/namespaces/NS/R   (deletecollection, with selectors)
  Accept: application/json;as=Table;v=v1;g=meta.k8s.io gives Tables (kubectl).
  Lists: resourceVersion = the global RV; items carry no kind/apiVersion
  (as from the real server).  ?resourceVersion=0 ignores limit (as the
  watch cache does).  Watch: chunked, one JSON event and "\\n" per chunk.

CONTROL (/_test/..., GET or POST, query parameters, JSON answers)
  fail?count=N[&code=500][&path=REGEX][&method=GET][&retry_after=S]
                     fail the next N matching API requests with a Status
  latency?ms=N       delay every API response by N ms (0 = off)
  expire-watches?open=1&next=N
                     open watches get ERROR 410 Expired and end (open=1,
                     the default); the next N watch requests too (next=N)
  compact            forget the watch history: a watch from any RV older
                     than now gets ERROR 410; continue tokens expire
  drop-watches[?clean=1]
                     cut every open watch connection now (no final chunk;
                     clean=1 ends them properly instead)
  pause-watches?on=1|0   hold watch output (a silent, stalled stream)
  bookmark           send a BOOKMARK now on every allowWatchBookmarks watch
  bookmark-interval?seconds=S
  delete-grace?seconds=S
  forbid?verb=list&resource=pods[&namespace=NS][&user=U] | forbid?clear=1
                     403 Forbidden for matching requests
  state[?objects=1]  RV, compacted RV, counts, open watches (and objects)
  requests[?since=SEQ]   recent API requests: seq, method, path, query,
                     user, code, watch;  requests-clear  forgets them
  reset              delete every object (DELETED events are sent)
  save               write the --state file now
"""

import argparse
import base64
import bisect
import copy
import gzip
import hashlib
import hmac
import ipaddress
import itertools
import json
import os
import random
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-jumpgate-test",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

RESOURCES = OrderedDict([
    ("pods", {"kind": "Pod", "namespaced": True, "short": ["po"],
              "singular": "pod", "categories": ["all"]}),
    ("services", {"kind": "Service", "namespaced": True, "short": ["svc"],
                  "singular": "service", "categories": ["all"]}),
    ("nodes", {"kind": "Node", "namespaced": False, "short": ["no"],
               "singular": "node", "categories": []}),
    ("namespaces", {"kind": "Namespace", "namespaced": False, "short": ["ns"],
                    "singular": "namespace", "categories": []}),
])
INITIAL_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"]
KIND_TO_RES = {v["kind"]: k for k, v in RESOURCES.items()}

MAX_BODY = 3 * 1024 * 1024          # the real server's request body limit
GZIP_THRESHOLD = 128 * 1024         # the real server's compression threshold
WATCH_QUEUE_CAP = 10000             # a slower watcher is cut off
SNAPSHOT_CAP = 64                   # consistent pages kept for continue
REQUEST_LOG_CAP = 2000
NODEPORT_MIN, NODEPORT_MAX = 30000, 32767


# ---------------------------------------------------------------- JSON, time

def dumps(obj):
    """JSON as Go's encoder writes it: compact, UTF-8, <>& and U+2028/9
    escaped (a client must decode \\u escapes)."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029"))


def now_rfc3339(offset=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def parse_rfc3339(s):
    try:
        return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except (TypeError, ValueError):
        return None


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm" % m if s % 60 == 0 else "%dm%ds" % (m, s % 60)
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        return "%dh" % h if m % 60 == 0 else "%dh%dm" % (h, m % 60)
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd" % (h // 24) if h % 24 == 0 else "%dd%dh" % (h // 24, h % 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return "%dy" % (h // 24 // 365) if dy == 0 else "%dy%dd" % (h // 24 // 365, dy)
    return "%dy" % (h // 24 // 365)


def age(obj):
    t = parse_rfc3339(obj.get("metadata", {}).get("creationTimestamp"))
    return "<unknown>" if t is None else human_duration(time.time() - t)


# ---------------------------------------------------------------- Status

class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or []

    def body(self):
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {},
         "status": "Failure", "message": message}
    if reason:
        s["reason"] = reason
    if details is not None:
        s["details"] = details
    s["code"] = code
    return s


def err_not_found(res, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (res, name),
                    {"name": name, "kind": res})


def err_no_route():
    return ApiError(404, "NotFound",
                    "the server could not find the requested resource",
                    {})


def err_exists(res, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (res, name),
                    {"name": name, "kind": res})


def err_conflict(res, name):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": the object has '
                    "been modified; please apply your changes to the latest "
                    "version and try again" % (res, name),
                    {"name": name, "kind": res})


def err_bad(message):
    return ApiError(400, "BadRequest", message)


def err_invalid(kind, name, causes):
    """causes: [(field, reason, message)]."""
    parts = ["%s: %s" % (f, m) for f, _, m in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind, name, text),
                    {"name": name, "kind": kind,
                     "causes": [{"reason": r, "message": m, "field": f}
                                for f, r, m in causes]})


def err_method(method):
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                    {})


def err_expired(message):
    return ApiError(410, "Expired", message)


def err_for_code(code, message=None, retry_after=1):
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
               404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
               410: "Expired", 422: "Invalid", 429: "TooManyRequests",
               500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
    reason = reasons.get(code, "")
    if message is None:
        message = {401: "Unauthorized",
                   429: "Too many requests, please try again later.",
                   503: "the server is currently unable to handle the request",
                   504: "the server was unable to return a response in the time allotted, but may still be processing the request",
                   }.get(code, "Internal error occurred: injected failure")
    details = None
    headers = []
    if code == 500:
        details = {"causes": [{"message": "injected failure"}]}
    if code in (429, 503, 504):
        details = {"retryAfterSeconds": retry_after}
        headers = [("Retry-After", str(retry_after))]
    return ApiError(code, reason, message, details, headers)


# ---------------------------------------------------------------- names

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def key_problem(k):
    """None when k is a valid label/annotation key, else why not."""
    if not isinstance(k, str) or not k:
        return "name part must be non-empty"
    name = k
    if "/" in k:
        prefix, name = k.split("/", 1)
        if not prefix or len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix):
            return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
    if len(name) > 63 or not QUALIFIED.match(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character")
    return None


def value_problem(v):
    if not isinstance(v, str):
        return "must be a string"
    if len(v) > 63 or not LABEL_VALUE.match(v):
        return ("a valid label must be an empty string or consist of alphanumeric "
                "characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character")
    return None


# ---------------------------------------------------------------- selectors

SEL_KEY = r"[^\s!=<>(),]+"


def split_top(s):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_label_selector(s):
    """[(key, op, value-or-set)] with op in = != in notin exists ! > <."""
    reqs = []
    if s is None or not s.strip():
        return reqs
    for part in split_top(s):
        p = part.strip()
        m = re.match(r"^(%s)\s+(in|notin)\s*\(([^()]*)\)$" % SEL_KEY, p)
        if m:
            vals = [v.strip() for v in m.group(3).split(",")]
            if vals == [""]:
                raise err_bad("unable to parse requirement: for 'in', 'notin' "
                              "operators, values set can't be empty")
            req = (m.group(1), m.group(2), set(vals))
        elif re.match(r"^!\s*(%s)$" % SEL_KEY, p):
            req = (p[1:].strip(), "!", None)
        else:
            m = re.match(r"^(%s)\s*(==|=|!=|>|<)\s*([^\s!=<>(),]*)$" % SEL_KEY, p)
            if m:
                op = "=" if m.group(2) == "==" else m.group(2)
                req = (m.group(1), op, m.group(3))
                if op in (">", "<") and not re.match(r"^-?[0-9]+$", m.group(3)):
                    raise err_bad("unable to parse requirement: for 'Gt', 'Lt' "
                                  "operators, the value must be an integer")
            elif re.match(r"^(%s)$" % SEL_KEY, p):
                req = (p, "exists", None)
            else:
                raise err_bad("unable to parse requirement: found '%s', "
                              "expected: identifier" % p)
        why = key_problem(req[0])
        if why:
            raise err_bad('unable to parse requirement: values[0][%s]: Invalid '
                          'value: "%s": %s' % (req[0], req[0], why))
        vals = req[2] if isinstance(req[2], set) else (
            [req[2]] if req[1] in ("=", "!=") else [])
        for v in vals:
            why = value_problem(v)
            if why:
                raise err_bad('unable to parse requirement: values[0][%s]: '
                              'Invalid value: "%s": %s' % (req[0], v, why))
        reqs.append(req)
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, val in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=":
            ok = has and v == val
        elif op == "!=":
            ok = not has or v != val
        elif op == "in":
            ok = has and v in val
        elif op == "notin":
            ok = not has or v not in val
        elif op == "exists":
            ok = has
        elif op == "!":
            ok = not has
        else:
            try:
                ok = has and (int(v) > int(val) if op == ">" else int(v) < int(val))
            except ValueError:
                ok = False
        if not ok:
            return False
    return True


FIELDS = {
    "pods": ["metadata.name", "metadata.namespace", "spec.nodeName",
             "spec.restartPolicy", "spec.schedulerName",
             "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
             "status.podIP", "status.nominatedNodeName"],
    "services": ["metadata.name", "metadata.namespace", "spec.clusterIP",
                 "spec.type"],
    "nodes": ["metadata.name", "spec.unschedulable"],
    "namespaces": ["metadata.name", "status.phase"],
}


def field_value(obj, dotted):
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return "false" if dotted in ("spec.hostNetwork", "spec.unschedulable") else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(s, res):
    reqs = []
    if s is None or not s.strip():
        return reqs
    parts, cur, esc = [], [], False
    for ch in s:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            cur.append(ch)
            esc = True
        elif ch == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    for p in parts:
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", p.strip())
        if not m:
            raise err_bad("invalid selector: '%s'; can't understand '%s'" % (s, p))
        field, op, val = m.group(1).strip(), m.group(2), m.group(3)
        val = re.sub(r"\\(.)", r"\1", val)
        if field not in FIELDS[res]:
            raise err_bad("field label not supported: %s" % field)
        reqs.append((field, "!=" if op == "!=" else "=", val))
    return reqs


def fields_match(reqs, obj):
    for field, op, val in reqs:
        v = field_value(obj, field)
        if (v == val) != (op == "="):
            return False
    return True


# ---------------------------------------------------------------- patches

class PatchError(Exception):
    pass


def merge_patch(orig, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(orig) if isinstance(orig, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# Strategic merge patch: the list fields of Pod, Service and Node that merge
# by a key (patchStrategy:"merge" in the Go types).  Paths ignore list
# indices.  "*" marks a list of scalars merged as a set.
SMP_KEYS = {
    ("metadata", "finalizers"): "*",
    ("metadata", "ownerReferences"): "uid",
    ("spec", "containers"): "name",
    ("spec", "initContainers"): "name",
    ("spec", "ephemeralContainers"): "name",
    ("spec", "volumes"): "name",
    ("spec", "imagePullSecrets"): "name",
    ("spec", "hostAliases"): "ip",
    ("spec", "ports"): "port",                  # Service
    ("status", "conditions"): "type",
    ("status", "addresses"): "type",            # Node
    ("status", "podIPs"): "ip",
    ("status", "hostIPs"): "ip",
}
for _c in ("containers", "initContainers", "ephemeralContainers"):
    SMP_KEYS[("spec", _c, "ports")] = "containerPort"
    SMP_KEYS[("spec", _c, "env")] = "name"
    SMP_KEYS[("spec", _c, "volumeMounts")] = "mountPath"
    SMP_KEYS[("spec", _c, "volumeDevices")] = "devicePath"

_DELETE = object()


def smp_strip(v):
    """A patch value with its directives removed, for insertion as is."""
    if isinstance(v, dict):
        return {k: smp_strip(x) for k, x in v.items()
                if not k.startswith("$") and x is not None}
    if isinstance(v, list):
        return [smp_strip(x) for x in v]
    return v


def strategic_merge(orig, patch, path=()):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return smp_strip(patch)
    if directive == "delete":
        return _DELETE
    if directive is not None and directive != "merge":
        raise PatchError("unknown patch type: %s" % directive)
    out = dict(orig) if isinstance(orig, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k[len("$setElementOrder/"):]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k[len("$deleteFromPrimitiveList/"):]
            if isinstance(out.get(f), list):
                out[f] = [x for x in out[f] if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
            continue
        sub = path + (k,)
        if isinstance(v, dict):
            r = strategic_merge(out.get(k), v, sub)
            if r is _DELETE:
                out.pop(k, None)
            else:
                out[k] = r
        elif isinstance(v, list):
            out[k] = smp_list(out.get(k), v, sub)
        else:
            out[k] = v
    for f, order in orders.items():
        if isinstance(out.get(f), list) and isinstance(order, list):
            out[f] = smp_order(out[f], order, SMP_KEYS.get(path + (f,)))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def smp_list(orig, patch, path):
    key = SMP_KEYS.get(path)
    if key is None:
        if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
            return [smp_strip(x) for x in patch
                    if not (isinstance(x, dict) and "$patch" in x)]
        return smp_strip(patch)
    out = list(orig) if isinstance(orig, list) else []
    if key == "*":
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    for item in patch:
        if not isinstance(item, dict):
            continue
        d = item.get("$patch")
        if d == "replace":
            return [smp_strip(x) for x in patch
                    if not (isinstance(x, dict) and "$patch" in x)]
        idx = next((i for i, o in enumerate(out)
                    if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if d == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(smp_strip(item))
        else:
            out[idx] = strategic_merge(out[idx], item, path)
    return out


def smp_order(items, order, key):
    def ident(x):
        return x.get(key) if key not in (None, "*") and isinstance(x, dict) else x
    pos = {}
    for i, o in enumerate(order):
        pos.setdefault(dumps(ident(o) if key in (None, "*") else
                             (o.get(key) if isinstance(o, dict) else o)), i)
    ranked = [(pos.get(dumps(ident(x)), len(order) + i), x)
              for i, x in enumerate(items)]
    ranked.sort(key=lambda t: t[0])
    return [x for _, x in ranked]


def _ptr(path):
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchError("invalid JSON pointer: %r" % (path,))
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _ptr_parent(doc, parts):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise PatchError("doc is missing path: /%s" % "/".join(parts))
    return cur


def _ptr_get(doc, path):
    parts = _ptr(path)
    if not parts:
        return doc
    parent = _ptr_parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise PatchError("doc is missing path: %s" % path)


def json_patch(doc, ops):
    """RFC 6902."""
    if not isinstance(ops, list):
        raise PatchError("json patch must be an array of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError("invalid operation %r" % (op,))
        kind, path = op.get("op"), op.get("path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError("missing value for %s" % kind)
        if kind == "test":
            if _ptr_get(doc, path) != op["value"]:
                raise PatchError("testing value %s failed" % path)
            continue
        if kind in ("move", "copy"):
            val = copy.deepcopy(_ptr_get(doc, op.get("from")))
            if kind == "move":
                doc = _ptr_remove(doc, op.get("from"))
            doc = _ptr_add(doc, path, val)
        elif kind == "add":
            doc = _ptr_add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _ptr_remove(doc, path)
        elif kind == "replace":
            _ptr_get(doc, path)
            doc = _ptr_remove(doc, path)
            doc = _ptr_add(doc, path, copy.deepcopy(op["value"]))
        else:
            raise PatchError("unexpected kind of operation: %r" % (kind,))
    return doc


def _ptr_add(doc, path, val):
    parts = _ptr(path)
    if not parts:
        return val
    parent = _ptr_parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = val
    elif isinstance(parent, list):
        if last == "-":
            parent.append(val)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), val)
        else:
            raise PatchError("add operation index out of bounds: %s" % path)
    else:
        raise PatchError("doc is missing path: %s" % path)
    return doc


def _ptr_remove(doc, path):
    parts = _ptr(path)
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _ptr_parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise PatchError("remove operation does not apply: doc is missing path: %s" % path)
    return doc


# ---------------------------------------------------------------- objects

META_ORDER = ["name", "generateName", "namespace", "selfLink", "uid",
              "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
              "annotations", "ownerReferences", "finalizers", "managedFields"]


def ordered(obj):
    """Top level and metadata keys in the order Go serialises them."""
    out = {}
    for k in ("kind", "apiVersion", "metadata", "spec", "status"):
        if k in obj:
            out[k] = obj[k]
    for k, v in obj.items():
        out.setdefault(k, v)
    md = out.get("metadata")
    if isinstance(md, dict):
        m = {k: md[k] for k in META_ORDER if k in md}
        for k, v in md.items():
            m.setdefault(k, v)
        out["metadata"] = m
    return out


def image_has_tag(image):
    last = image.rsplit("/", 1)[-1]
    return "@" in image or (":" in last and not last.endswith(":latest"))


def default_object(res, obj):
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if res == "pods":
        for k, v in (("restartPolicy", "Always"),
                     ("terminationGracePeriodSeconds", 30),
                     ("dnsPolicy", "ClusterFirst"),
                     ("serviceAccountName", "default"),
                     ("securityContext", {}),
                     ("schedulerName", "default-scheduler"),
                     ("enableServiceLinks", True),
                     ("priority", 0),
                     ("preemptionPolicy", "PreemptLowerPriority")):
            spec.setdefault(k, v)
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        for lst in ("initContainers", "containers"):
            for c in spec.get(lst) or []:
                if not isinstance(c, dict):
                    continue
                c.setdefault("resources", {})
                c.setdefault("terminationMessagePath", "/dev/termination-log")
                c.setdefault("terminationMessagePolicy", "File")
                if isinstance(c.get("image"), str):
                    c.setdefault("imagePullPolicy",
                                 "IfNotPresent" if image_has_tag(c["image"]) else "Always")
                for p in c.get("ports") or []:
                    if isinstance(p, dict):
                        p.setdefault("protocol", "TCP")
    elif res == "services":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
        if spec["type"] != "ExternalName":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        obj.setdefault("status", {"loadBalancer": {}})
    elif res == "namespaces":
        spec.setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {"phase": "Active"})
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            obj["metadata"].get("name")


def validate_object(res, obj, lenient):
    kind = RESOURCES[res]["kind"]
    md = obj.get("metadata") or {}
    name = md.get("name", "")
    causes = []
    name_re, name_max = {"services": (DNS1035, 63), "namespaces": (DNS_LABEL, 63)}.get(
        res, (DNS_SUBDOMAIN, 253))
    if not isinstance(name, str) or not name_re.match(name) or len(name) > name_max:
        causes.append(("metadata.name", "FieldValueInvalid",
                       'Invalid value: "%s": a lowercase RFC 1123 %s must consist '
                       "of lower case alphanumeric characters, '-' or '.'"
                       % (name, "label" if res == "services" else "subdomain")))
    for fld in ("labels", "annotations"):
        m = md.get(fld)
        if m is None:
            continue
        if not isinstance(m, dict):
            causes.append(("metadata." + fld, "FieldValueInvalid", "Invalid value: must be a map"))
            continue
        for k, v in m.items():
            why = key_problem(k)
            if why:
                causes.append(("metadata.%s" % fld, "FieldValueInvalid",
                               'Invalid value: "%s": %s' % (k, why)))
            if fld == "labels":
                why = value_problem(v)
            elif not isinstance(v, str):
                why = "must be a string"
            else:
                why = None
            if why:
                causes.append(("metadata.%s" % fld, "FieldValueInvalid",
                               "Invalid value: %s: %s" % (json.dumps(v), why)))
    if causes and not lenient:
        raise err_invalid(kind, name, causes)
    if lenient:
        return
    spec = obj.get("spec")
    if res == "pods":
        cs = spec.get("containers") if isinstance(spec, dict) else None
        if not cs or not isinstance(cs, list):
            causes.append(("spec.containers", "FieldValueRequired", "Required value"))
        else:
            seen = set()
            for i, c in enumerate(cs):
                f = "spec.containers[%d]" % i
                if not isinstance(c, dict):
                    causes.append((f, "FieldValueInvalid", "Invalid value: must be an object"))
                    continue
                if not c.get("name"):
                    causes.append((f + ".name", "FieldValueRequired", "Required value"))
                elif not DNS_LABEL.match(str(c["name"])):
                    causes.append((f + ".name", "FieldValueInvalid",
                                   'Invalid value: "%s": a lowercase RFC 1123 label '
                                   "must consist of lower case alphanumeric characters or '-'"
                                   % c["name"]))
                elif c["name"] in seen:
                    causes.append((f + ".name", "FieldValueDuplicate",
                                   'Duplicate value: "%s"' % c["name"]))
                seen.add(c.get("name"))
                if not c.get("image"):
                    causes.append((f + ".image", "FieldValueRequired", "Required value"))
                for j, p in enumerate(c.get("ports") or []):
                    cp = p.get("containerPort") if isinstance(p, dict) else None
                    if not isinstance(cp, int) or not 0 < cp < 65536:
                        causes.append(("%s.ports[%d].containerPort" % (f, j),
                                       "FieldValueInvalid",
                                       "Invalid value: %s: must be between 1 and 65535, inclusive"
                                       % json.dumps(cp)))
    elif res == "services":
        spec = spec if isinstance(spec, dict) else {}
        typ = spec.get("type", "ClusterIP")
        if typ not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            causes.append(("spec.type", "FieldValueNotSupported",
                           'Unsupported value: "%s": supported values: "ClusterIP", '
                           '"ExternalName", "LoadBalancer", "NodePort"' % typ))
        ports = spec.get("ports") or []
        if not ports and typ != "ExternalName" and spec.get("clusterIP") != "None":
            causes.append(("spec.ports", "FieldValueRequired", "Required value"))
        for i, p in enumerate(ports):
            f = "spec.ports[%d]" % i
            if not isinstance(p, dict):
                causes.append((f, "FieldValueInvalid", "Invalid value: must be an object"))
                continue
            if len(ports) > 1 and not p.get("name"):
                causes.append((f + ".name", "FieldValueRequired", "Required value"))
            port = p.get("port")
            if not isinstance(port, int) or not 0 < port < 65536:
                causes.append((f + ".port", "FieldValueInvalid",
                               "Invalid value: %s: must be between 1 and 65535, inclusive"
                               % json.dumps(port)))
            np = p.get("nodePort")
            if np not in (None, 0):
                if typ not in ("NodePort", "LoadBalancer"):
                    causes.append((f + ".nodePort", "FieldValueForbidden",
                                   "Forbidden: may not be used when `type` is '%s'" % typ))
                elif not isinstance(np, int) or not NODEPORT_MIN <= np <= NODEPORT_MAX:
                    causes.append((f + ".nodePort", "FieldValueInvalid",
                                   "Invalid value: %s: provided port is not in the valid "
                                   "range. The range of valid ports is %d-%d"
                                   % (json.dumps(np), NODEPORT_MIN, NODEPORT_MAX)))
    if causes:
        raise err_invalid(kind, name, causes)


# ---------------------------------------------------------------- tables

def coldef(name, typ="string", priority=0, fmt="", desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc,
            "priority": priority}


NAME_COL = coldef("Name", fmt="name",
                  desc="Name must be unique within a namespace. Is required when "
                       "creating resources, although some resources may allow a "
                       "client to request the generation of an appropriate name "
                       "automatically. Name is primarily intended for creation "
                       "idempotence and configuration definition. Cannot be "
                       "updated. More info: https://kubernetes.io/docs/concepts/"
                       "overview/working-with-objects/names#names")
AGE_COL = coldef("Age", desc="CreationTimestamp is a timestamp representing the "
                             "server time when this object was created.")
COLUMNS = {
    "pods": [NAME_COL,
             coldef("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
             coldef("Status", desc="The aggregate status of the containers in this pod."),
             coldef("Restarts", desc="The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
             AGE_COL,
             coldef("IP", priority=1, desc="podIP address allocated to the pod."),
             coldef("Node", priority=1, desc="NodeName indicates in which node this pod is scheduled."),
             coldef("Nominated Node", priority=1, desc="nominatedNodeName is set only when this pod preempts other pods on the node."),
             coldef("Readiness Gates", priority=1, desc="If specified, all readiness gates will be evaluated for pod readiness.")],
    "services": [NAME_COL,
                 coldef("Type", desc="type determines how the Service is exposed."),
                 coldef("Cluster-IP", desc="clusterIP is the IP address of the service."),
                 coldef("External-IP", desc="externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                 coldef("Port(s)", desc="The list of ports that are exposed by this service."),
                 AGE_COL,
                 coldef("Selector", priority=1, desc="Route service traffic to pods with label keys and values matching this selector.")],
    "nodes": [NAME_COL,
              coldef("Status", desc="The status of the node"),
              coldef("Roles", desc="The roles of the node"),
              AGE_COL,
              coldef("Version", desc="Kubelet Version reported by the node."),
              coldef("Internal-IP", priority=1, desc="List of addresses reachable to the node."),
              coldef("External-IP", priority=1, desc="List of addresses reachable to the node."),
              coldef("OS-Image", priority=1, desc="OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
              coldef("Kernel-Version", priority=1, desc="Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
              coldef("Container-Runtime", priority=1, desc="ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).")],
    "namespaces": [NAME_COL,
                   coldef("Status", desc="The status of the namespace"),
                   AGE_COL],
}


def pod_cells(o):
    md, spec, st = o.get("metadata", {}), o.get("spec") or {}, o.get("status") or {}
    total = len(spec.get("containers") or [])
    reason = st.get("reason") or st.get("phase") or ""
    restarts = ready = 0
    running = False
    for c in reversed(st.get("containerStatuses") or []):
        restarts += int(c.get("restartCount") or 0)
        state = c.get("state") or {}
        w, t = state.get("waiting"), state.get("terminated")
        if w and w.get("reason"):
            reason = w["reason"]
        elif t and t.get("reason"):
            reason = t["reason"]
        elif t is not None:
            reason = ("Signal:%d" % t["signal"] if t.get("signal")
                      else "ExitCode:%d" % int(t.get("exitCode") or 0))
        elif c.get("ready") and state.get("running") is not None:
            running = True
            ready += 1
    if reason == "Completed" and running:
        ok = any(c.get("type") == "Ready" and c.get("status") == "True"
                 for c in st.get("conditions") or [])
        reason = "Running" if ok else "NotReady"
    if md.get("deletionTimestamp"):
        reason = "Unknown" if st.get("reason") == "NodeLost" else "Terminating"
    gates = spec.get("readinessGates") or []
    if gates:
        conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
        gate = "%d/%d" % (sum(1 for g in gates if conds.get(g.get("conditionType")) == "True"),
                          len(gates))
    else:
        gate = "<none>"
    return [md.get("name"), "%d/%d" % (ready, total), reason, str(restarts),
            age(o), st.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>", gate]


def service_cells(o):
    md, spec, st = o.get("metadata", {}), o.get("spec") or {}, o.get("status") or {}
    typ = spec.get("type", "ClusterIP")
    ext = list(spec.get("externalIPs") or [])
    if typ == "LoadBalancer":
        ing = [i.get("ip") or i.get("hostname") for i in
               (st.get("loadBalancer") or {}).get("ingress") or []]
        ext = [x for x in ing if x] + ext
        exts = ",".join(ext) if ext else "<pending>"
    elif typ == "ExternalName":
        exts = spec.get("externalName") or "<none>"
    else:
        exts = ",".join(ext) if ext else "<none>"
    ports = []
    for p in spec.get("ports") or []:
        if p.get("nodePort"):
            ports.append("%s:%s/%s" % (p.get("port"), p["nodePort"], p.get("protocol", "TCP")))
        else:
            ports.append("%s/%s" % (p.get("port"), p.get("protocol", "TCP")))
    sel = spec.get("selector") or {}
    return [md.get("name"), typ, spec.get("clusterIP") or "<none>", exts,
            ",".join(ports) or "<none>", age(o),
            ",".join("%s=%s" % (k, sel[k]) for k in sorted(sel)) or "<none>"]


def node_cells(o):
    md, spec, st = o.get("metadata", {}), o.get("spec") or {}, o.get("status") or {}
    status = "Unknown"
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready":
            status = {"True": "Ready", "False": "NotReady"}.get(c.get("status"), "Unknown")
    if spec.get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = set()
    for k, v in (md.get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            roles.add(k.split("/", 1)[1])
        elif k == "kubernetes.io/role":
            roles.add(v)
    roles.discard("")
    info = st.get("nodeInfo") or {}

    def addr(kind):
        for a in st.get("addresses") or []:
            if a.get("type") == kind:
                return a.get("address")
        return "<none>"
    return [md.get("name"), status, ",".join(sorted(roles)) or "<none>", age(o),
            info.get("kubeletVersion", ""), addr("InternalIP"), addr("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def namespace_cells(o):
    return [o["metadata"].get("name"), (o.get("status") or {}).get("phase", ""), age(o)]


CELLS = {"pods": pod_cells, "services": service_cells, "nodes": node_cells,
         "namespaces": namespace_cells}


def table_of(res, objs, list_meta, include):
    rows = []
    for o in objs:
        row = {"cells": CELLS[res](o)}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata",
                             "apiVersion": "meta.k8s.io/v1",
                             "metadata": o.get("metadata", {})}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": COLUMNS[res], "rows": rows}


def bookmark_object(res, rv, initial_end=False):
    """As the real server sends it: a zero object of the kind but for the
    resourceVersion.  Clients must read nothing else."""
    md = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        md["annotations"] = {"k8s.io/initial-events-end": "true"}
    o = {"kind": RESOURCES[res]["kind"], "apiVersion": "v1", "metadata": md}
    if res == "pods":
        o["spec"] = {"containers": None}
        o["status"] = {}
    elif res == "services":
        o["spec"] = {}
        o["status"] = {"loadBalancer": {}}
    elif res == "namespaces":
        o["spec"] = {}
        o["status"] = {}
    else:
        o["spec"] = {}
        o["status"] = {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                       "nodeInfo": {k: "" for k in (
                           "machineID", "systemUUID", "bootID", "kernelVersion",
                           "osImage", "containerRuntimeVersion", "kubeletVersion",
                           "kubeProxyVersion", "operatingSystem", "architecture")}}
    return o


# ---------------------------------------------------------------- the store

class ServiceTable(dict):
    """The services, with the nodePorts and cluster IPs they hold counted
    as they come and go: allocation then costs O(ports), not a scan of
    every Service (which made a preload of 10,000 quadratic)."""

    def __init__(self):
        super().__init__()
        self.node_ports = Counter()
        self.cluster_ips = Counter()

    def _count(self, obj, step):
        spec = obj.get("spec") or {}
        if spec.get("clusterIP"):
            self.cluster_ips[spec["clusterIP"]] += step
        for p in spec.get("ports") or []:
            if p.get("nodePort"):
                self.node_ports[p["nodePort"]] += step

    def __setitem__(self, key, obj):
        if key in self:
            self._count(self[key], -1)
        super().__setitem__(key, obj)
        self._count(obj, 1)

    def __delitem__(self, key):
        self._count(self[key], -1)
        super().__delitem__(key)


class UsedPorts:
    """Membership over ServiceTable.node_ports, less one Service's own
    ports, plus the ports taken while allocating."""

    def __init__(self, counts, skip_ports):
        self.counts = counts
        self.skip = Counter(skip_ports)
        self.added = set()

    def __contains__(self, port):
        return port in self.added or self.counts[port] - self.skip[port] > 0

    def add(self, port):
        self.added.add(port)


def obj_key(obj):
    md = obj["metadata"]
    return "%s/%s" % (md["namespace"], md["name"]) if md.get("namespace") else md["name"]


def rv_of(obj):
    return int(obj["metadata"]["resourceVersion"])


class Watcher:
    _ids = itertools.count(1)

    def __init__(self, res, ns, lsel, fsel, bookmarks, table, include, user):
        self.id = next(Watcher._ids)
        self.res, self.ns, self.lsel, self.fsel = res, ns, lsel, fsel
        self.bookmarks, self.table, self.include, self.user = bookmarks, table, include, user
        self.queue = deque()
        self.kill = None            # "drop" | "clean" | "expire"
        self.bookmark_due = False
        self.started = time.time()

    def matches(self, obj):
        if obj is None:
            return False
        if self.ns and obj["metadata"].get("namespace") != self.ns:
            return False
        return (labels_match(self.lsel, obj["metadata"].get("labels"))
                and fields_match(self.fsel, obj))

    def translate(self, etype, obj, prev):
        """The event this watcher sees, emulating the watch cache's
        selector semantics: leaving the selection is DELETED (the old
        object at the new RV), entering it is ADDED."""
        cur = self.matches(obj)
        if etype in ("ADDED", "DELETED"):
            return (etype, obj) if cur else None
        was = self.matches(prev)
        if cur and was:
            return ("MODIFIED", obj)
        if cur:
            return ("ADDED", obj)
        if was:
            gone = copy.copy(prev)
            gone["metadata"] = dict(prev["metadata"],
                                    resourceVersion=obj["metadata"]["resourceVersion"])
            return ("DELETED", gone)
        return None


class Cluster:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 1
        self.compacted_rv = 1
        self.objects = {r: ServiceTable() if r == "services" else {}
                        for r in RESOURCES}
        self.history = deque()
        self.history_cap = args.history
        self.snapshots = OrderedDict()       # (res, rv) -> sorted [(key, obj)]
        self.item_texts = {}                 # (res, key) -> (rv, JSON text)
        self.watchers = set()
        self.max_watches = args.max_watches
        self.bookmark_interval = float(args.bookmark_interval)
        self.delete_grace = float(args.delete_grace)
        self.lenient = args.lenient
        self.stopping = False
        self.paused = False
        self.faults = []                     # dicts: count, code, path, method
        self.expire_next = 0
        self.latency = 0.0
        self.forbid = []
        self.requests = deque()
        self.request_seq = 0
        self.next_ip = 10
        self.state_file = args.state
        self.save_event = threading.Event()
        self.saved_rv = 0

    # -- events

    def _bump(self):
        self.rv += 1
        return self.rv

    def _emit(self, res, etype, obj, prev=None):
        self.history.append((rv_of(obj), res, etype, obj, prev))
        while len(self.history) > self.history_cap:
            self.compacted_rv = self.history.popleft()[0]
        for w in self.watchers:
            if w.res != res or w.kill:
                continue
            ev = w.translate(etype, obj, prev)
            if ev is None:
                continue
            if len(w.queue) >= WATCH_QUEUE_CAP:
                w.kill = "clean"
                continue
            w.queue.append(ev)
        self.cond.notify_all()
        self.save_event.set()

    # -- reads

    def get(self, res, ns, name):
        with self.lock:
            o = self.objects[res].get("%s/%s" % (ns, name) if ns else name)
            if o is None:
                raise err_not_found(res, name)
            return o

    def list(self, res, ns, lsel, fsel, limit, cont, rv_param):
        with self.lock:
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                    snap_rv, start = int(tok["rv"]), str(tok["start"])
                except (ValueError, KeyError, TypeError):
                    raise err_bad("continue key is not valid: incorrect encoded start "
                                  "resourceVersion (version meta.k8s.io/v1)")
                items = self.snapshots.get((res, snap_rv))
                if items is None or snap_rv < self.compacted_rv:
                    raise err_expired(
                        "The provided continue parameter is too old to display a "
                        "consistent list result. You can start a new list without "
                        "the continue parameter, or use the continue token in this "
                        "response to retrieve the remainder of the results. "
                        "Continuing with the provided token results in an "
                        "inconsistent list - objects that were created, modified, "
                        "or deleted between the time the first chunk was returned "
                        "and now may show up in the list.")
                list_rv = snap_rv
                first = bisect.bisect_right(items, start.rstrip("\x00"),
                                            key=lambda kv: kv[0])
            else:
                list_rv = self.rv
                items = sorted(self.objects[res].items())
                first = 0
            if rv_param == "0" and not cont:
                limit = 0

            def wanted(o):
                return ((not ns or o["metadata"].get("namespace") == ns)
                        and labels_match(lsel, o["metadata"].get("labels"))
                        and fields_match(fsel, o))
            # Only up to one match past the page is looked at: each page
            # costs its own size, not the rest of the list (which made a
            # paged list of 10,000 quadratic).
            sel, i = [], first
            while i < len(items) and (not limit or len(sel) <= limit):
                if wanted(items[i][1]):
                    sel.append(items[i])
                i += 1
            meta = {"resourceVersion": str(list_rv)}
            if limit and len(sel) > limit:
                page = sel[:limit]
                if not cont:
                    self.snapshots[(res, list_rv)] = items
                    while len(self.snapshots) > SNAPSHOT_CAP:
                        self.snapshots.popitem(last=False)
                tok = {"v": "meta.k8s.io/v1", "rv": list_rv,
                       "start": page[-1][0] + "\x00"}
                meta["continue"] = base64.urlsafe_b64encode(
                    dumps(tok).encode()).decode().rstrip("=")
                if not lsel and not fsel:
                    # the one past the page, and the rest in the namespace
                    # keys sort by namespace: its items end before ns + "0"
                    end = len(items) if not ns else bisect.bisect_left(
                        items, ns + "0", key=lambda kv: kv[0])
                    meta["remainingItemCount"] = 1 + max(end - i, 0)
                sel = page
            return meta, [o for _, o in sel]

    def item_json(self, res, obj):
        """obj as a list item (no kind, apiVersion), serialized once per
        resourceVersion: a paged list of 10,000 objects spent most of its
        time re-encoding objects that had not changed."""
        key, rv = (res, obj_key(obj)), obj["metadata"].get("resourceVersion")
        hit = self.item_texts.get(key)
        if hit is not None and hit[0] == rv:
            return hit[1]
        text = dumps({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
        self.item_texts[key] = (rv, text)
        return text

    # -- writes

    def _check_ns(self, res, ns, md):
        if RESOURCES[res]["namespaced"]:
            if md.get("namespace") not in (None, "", ns):
                raise err_bad("the namespace of the provided object does not match "
                              "the namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)

    def _check_kind(self, res, obj):
        kind = RESOURCES[res]["kind"]
        if obj.get("kind") not in (None, kind) or obj.get("apiVersion") not in (None, "v1"):
            raise err_bad('%s in version "%s" cannot be handled as a %s: the object '
                          "provided is unrecognized"
                          % (obj.get("kind"), obj.get("apiVersion"), kind))
        obj["kind"] = kind
        obj["apiVersion"] = "v1"

    def _used_nodeports(self, skip_key):
        """The nodePorts held by Services other than skip_key, as a set
        that reads the counts in place."""
        skip = self.objects["services"].get(skip_key)
        return UsedPorts(self.objects["services"].node_ports,
                         [p["nodePort"] for p in ((skip or {}).get("spec") or {})
                          .get("ports") or [] if p.get("nodePort")])

    def _allocate(self, res, obj, old, key):
        """ClusterIP and nodePorts, carried over from old like the real
        server's patchAllocatedValues."""
        if res != "services":
            return
        spec = obj["spec"]
        ospec = (old or {}).get("spec") or {}
        typ = spec.get("type", "ClusterIP")
        if typ != "ExternalName":
            if not spec.get("clusterIP") and ospec.get("clusterIP"):
                spec["clusterIP"] = ospec["clusterIP"]
            if not spec.get("clusterIP"):
                used = self.objects["services"].cluster_ips
                while True:
                    ip = "10.96.%d.%d" % (self.next_ip // 250, self.next_ip % 250 + 1)
                    self.next_ip += 1
                    if used[ip] <= 0:
                        break
                spec["clusterIP"] = ip
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if typ not in ("NodePort", "LoadBalancer"):
            return
        used = self._used_nodeports(key)
        for i, p in enumerate(spec.get("ports") or []):
            if not p.get("nodePort"):
                for op in ospec.get("ports") or []:
                    if (op.get("port"), op.get("protocol", "TCP")) == \
                            (p.get("port"), p.get("protocol", "TCP")) and op.get("nodePort"):
                        p["nodePort"] = op["nodePort"]
            if p.get("nodePort"):
                if p["nodePort"] in used and not self.lenient:
                    raise err_invalid("Service", obj["metadata"]["name"], [(
                        "spec.ports[%d].nodePort" % i, "FieldValueInvalid",
                        "Invalid value: %d: provided port is already allocated" % p["nodePort"])])
            else:
                free = [n for n in range(NODEPORT_MIN, NODEPORT_MAX + 1) if n not in used]
                if not free:
                    raise err_for_code(500, "Internal error occurred: failed to allocate a nodePort: range is full")
                p["nodePort"] = random.choice(free)
            used.add(p["nodePort"])

    def create(self, res, ns, obj, dry_run=False, keep_status=True):
        if not isinstance(obj, dict):
            raise err_bad("the body of the request must be a JSON object")
        obj = copy.deepcopy(obj)
        self._check_kind(res, obj)
        md = obj.get("metadata")
        if not isinstance(md, dict):
            md = obj["metadata"] = {}
        with self.lock:
            self._check_ns(res, ns, md)
            if RESOURCES[res]["namespaced"] and ns not in self.objects["namespaces"]:
                # a real server says 404 namespaces "ns" not found; tests
                # are simpler when namespaces appear on first use
                if not DNS_LABEL.match(ns or ""):
                    raise err_not_found("namespaces", ns)
                self.create("namespaces", None, {"metadata": {"name": ns}})
            if not md.get("name") and md.get("generateName"):
                md["name"] = md["generateName"] + "".join(
                    random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            if not md.get("name"):
                raise err_invalid(RESOURCES[res]["kind"], "", [(
                    "metadata.name", "FieldValueRequired",
                    "Required value: name or generateName is required")])
            for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation", "selfLink", "managedFields"):
                md.pop(k, None)
            if not keep_status:
                obj.pop("status", None)
            if res == "pods" and not obj.get("status"):
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            default_object(res, obj)
            validate_object(res, obj, self.lenient)
            key = obj_key(obj)
            if key in self.objects[res]:
                raise err_exists(res, md["name"])
            self._allocate(res, obj, None, key)
            md["uid"] = str(uuid.uuid4())
            md["generation"] = 1
            md["creationTimestamp"] = now_rfc3339()
            if dry_run:
                return ordered(obj)
            md["resourceVersion"] = str(self._bump())
            obj = ordered(obj)
            self.objects[res][key] = obj
            self._emit(res, "ADDED", obj)
            return obj

    def update(self, res, ns, name, new, sub=None, dry_run=False, mutate=None,
               create_missing=False):
        """PUT (new given) or read-modify-write (mutate(old) -> new)."""
        with self.lock:
            key = "%s/%s" % (ns, name) if ns else name
            old = self.objects[res].get(key)
            if old is None:
                if create_missing and mutate is not None:
                    return self.create(res, ns, mutate(None), dry_run), True
                raise err_not_found(res, name)
            if mutate is not None:
                new = mutate(copy.deepcopy(old))
            if not isinstance(new, dict):
                raise err_bad("the body of the request must be a JSON object")
            new = copy.deepcopy(new)
            self._check_kind(res, new)
            md = new.get("metadata")
            if not isinstance(md, dict):
                md = new["metadata"] = {}
            if md.get("name", name) != name:
                raise err_bad("the name of the object (%s) does not match the name "
                              "on the URL (%s)" % (md.get("name"), name))
            md["name"] = name
            self._check_ns(res, ns, md)
            omd = old["metadata"]
            if md.get("resourceVersion") not in (None, "", omd["resourceVersion"]):
                raise err_conflict(res, name)
            if md.get("uid") not in (None, "", omd["uid"]):
                raise err_conflict(res, name)
            if sub == "status":
                st = new.get("status")
                new = copy.deepcopy(old)
                if st is None:
                    new.pop("status", None)
                else:
                    new["status"] = st
                md = new["metadata"]
            else:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            for k in ("uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
                if k in omd:
                    md[k] = omd[k]
                else:
                    md.pop(k, None)
            md.pop("managedFields", None)
            md.pop("selfLink", None)
            default_object(res, new)
            validate_object(res, new, self.lenient)
            self._allocate(res, new, old, key)
            md["resourceVersion"] = omd["resourceVersion"]
            if new == old:
                return old, False       # a no-op write: no new RV, no event
            if new.get("spec") != old.get("spec"):
                md["generation"] = int(omd.get("generation") or 1) + 1
            if dry_run:
                return ordered(new), False
            md["resourceVersion"] = str(self._bump())
            new = ordered(new)
            if omd.get("deletionTimestamp") and omd.get("finalizers") and \
                    not md.get("finalizers"):
                # the last finalizer went: the object goes
                del self.objects[res][key]
                self._emit(res, "DELETED", new, old)
                return new, False
            self.objects[res][key] = new
            self._emit(res, "MODIFIED", new, old)
            return new, False

    def delete(self, res, ns, name, opts, dry_run=False):
        with self.lock:
            key = "%s/%s" % (ns, name) if ns else name
            old = self.objects[res].get(key)
            if old is None:
                raise err_not_found(res, name)
            pre = (opts or {}).get("preconditions") or {}
            omd = old["metadata"]
            if pre.get("uid") not in (None, "", omd["uid"]) or \
                    pre.get("resourceVersion") not in (None, "", omd["resourceVersion"]):
                raise ApiError(409, "Conflict",
                               "Operation cannot be fulfilled on %s \"%s\": Precondition "
                               "failed: UID in precondition: %s, UID in object meta: %s"
                               % (res, name, pre.get("uid"), omd["uid"]),
                               {"name": name, "kind": res})
            if dry_run:
                return old
            if res == "namespaces":
                # the namespace controller's work, done at once
                for r, spec in RESOURCES.items():
                    if spec["namespaced"]:
                        for k in sorted(self.objects[r]):
                            if self.objects[r][k]["metadata"].get("namespace") == name:
                                self._remove(r, k, self.objects[r][k])
                return self._remove(res, key, old)
            grace = (opts or {}).get("gracePeriodSeconds")
            if grace is None:
                grace = self.delete_grace if res == "pods" else 0
            if omd.get("finalizers") or (res == "pods" and grace and grace > 0):
                if omd.get("deletionTimestamp"):
                    return old
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339(grace or 0)
                new["metadata"]["deletionGracePeriodSeconds"] = int(grace or 0)
                new["metadata"]["resourceVersion"] = str(self._bump())
                new = ordered(new)
                self.objects[res][key] = new
                self._emit(res, "MODIFIED", new, old)
                if not omd.get("finalizers"):
                    t = threading.Timer(grace, self._finish_delete, (res, key, new))
                    t.daemon = True
                    t.start()
                return new
            return self._remove(res, key, old)

    def _remove(self, res, key, old):
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self._bump())
        del self.objects[res][key]
        self.item_texts.pop((res, key), None)
        self._emit(res, "DELETED", gone, old)
        return gone

    def _finish_delete(self, res, key, expect):
        with self.lock:
            cur = self.objects[res].get(key)
            if cur is not None and cur["metadata"]["uid"] == expect["metadata"]["uid"] \
                    and not cur["metadata"].get("finalizers"):
                self._remove(res, key, cur)

    def reset(self):
        with self.lock:
            for res in RESOURCES:
                for key in sorted(self.objects[res]):
                    self._remove(res, key, self.objects[res][key])
            self.make_namespaces()

    def make_namespaces(self):
        with self.lock:
            for ns in INITIAL_NAMESPACES + [self.args.namespace]:
                if ns not in self.objects["namespaces"]:
                    self.create("namespaces", None, {"metadata": {"name": ns}})

    # -- watches

    def start_watch(self, w, rv_param, send_initial):
        """Registers w with its initial events queued, or returns an ERROR
        Status for the stream."""
        with self.lock:
            if len(self.watchers) >= self.max_watches:
                raise err_for_code(429)
            if self.expire_next > 0:
                self.expire_next -= 1
                return status_body(410, "Expired", "too old resource version: %s (%d)"
                                   % (rv_param or self.rv, self.rv))
            if rv_param in (None, "", "0") or send_initial:
                for _, o in sorted(self.objects[w.res].items()):
                    if w.matches(o):
                        w.queue.append(("ADDED", o))
                if send_initial and w.bookmarks:
                    w.queue.append(("BOOKMARK_END", None))
            else:
                try:
                    n = int(rv_param)
                    if n < 0:
                        raise ValueError
                except ValueError:
                    raise err_bad('resourceVersion: Invalid value: "%s": strconv.ParseUint: '
                                  'parsing "%s": invalid syntax' % (rv_param, rv_param))
                if n < self.compacted_rv:
                    return status_body(410, "Expired", "too old resource version: %d (%d)"
                                       % (n, self.compacted_rv))
                for rv, res, etype, obj, prev in self.history:
                    if rv > n and res == w.res:
                        ev = w.translate(etype, obj, prev)
                        if ev:
                            w.queue.append(ev)
            self.watchers.add(w)
            return None

    def stop_watch(self, w):
        with self.lock:
            self.watchers.discard(w)

    # -- control

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f["count"] > 0 and (not f["method"] or f["method"] == method) \
                        and (not f["path"] or re.search(f["path"], path)):
                    f["count"] -= 1
                    self.faults = [x for x in self.faults if x["count"] > 0]
                    return err_for_code(f["code"], f.get("message"), f["retry_after"])
        return None

    def forbidden(self, user, verb, res, ns):
        with self.lock:
            for r in self.forbid:
                if (r["verb"] in ("", "*", verb) and r["resource"] in ("", "*", res)
                        and r["namespace"] in ("", ns or "")
                        and r["user"] in ("", user)):
                    where = ' in the namespace "%s"' % ns if ns else " at the cluster scope"
                    return ApiError(403, "Forbidden",
                                    '%s is forbidden: User "%s" cannot %s resource "%s" in '
                                    'API group ""%s' % (res, user, verb, res, where),
                                    {"kind": res})
        return None

    def log_request(self, entry):
        with self.lock:
            self.request_seq += 1
            entry["seq"] = self.request_seq
            self.requests.append(entry)
            while len(self.requests) > REQUEST_LOG_CAP:
                self.requests.popleft()

    # -- persistence

    def load(self, path):
        with open(path) as f:
            data = json.load(f)
        with self.lock:
            self.rv = int(data["resourceVersion"])
            self.compacted_rv = self.rv
            self.saved_rv = self.rv
            for res, items in data.get("objects", {}).items():
                for o in items:
                    self.objects[res][obj_key(o)] = o
            self.next_ip = int(data.get("nextIP", 10))

    def save(self):
        if not self.state_file:
            return
        with self.lock:
            if self.rv == self.saved_rv and os.path.exists(self.state_file):
                return
            data = {"resourceVersion": self.rv, "nextIP": self.next_ip,
                    "objects": {r: [self.objects[r][k] for k in sorted(self.objects[r])]
                                for r in RESOURCES}}
            rv = self.rv
            text = dumps(data)
        d = os.path.dirname(os.path.abspath(self.state_file))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".state.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, self.state_file)
        with self.lock:
            self.saved_rv = max(self.saved_rv, rv)

    def saver(self):
        while True:
            self.save_event.wait()
            self.save_event.clear()
            if self.stopping:
                return
            try:
                self.save()
            except OSError as e:
                print("apiserver: cannot save %s: %s" % (self.state_file, e), file=sys.stderr)
            time.sleep(0.05)


# ---------------------------------------------------------------- discovery

def api_resource_list():
    res = []
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch",
             "update", "watch"]
    for name, r in RESOURCES.items():
        d = {"name": name, "singularName": r["singular"], "namespaced": r["namespaced"],
             "kind": r["kind"], "verbs": verbs, "shortNames": r["short"]}
        if r["categories"]:
            d["categories"] = r["categories"]
        d["storageVersionHash"] = base64.b64encode(
            hashlib.sha256(name.encode()).digest()[:8]).decode()
        res.append(d)
        res.append({"name": name + "/status", "singularName": "",
                    "namespaced": r["namespaced"], "kind": r["kind"],
                    "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "groupVersion": "v1", "resources": res}


def openapi_v3_doc():
    """Just enough OpenAPI v3 for kubectl: PATCH operations that declare the
    fieldValidation parameter, so kubectl leaves validation to the server
    instead of downloading schemas."""
    paths = {}
    for name, r in RESOURCES.items():
        gvk = {"group": "", "version": "v1", "kind": r["kind"]}
        base = ("/api/v1/namespaces/{namespace}/%s" % name if r["namespaced"]
                else "/api/v1/%s" % name)
        params = [{"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for p in ("dryRun", "fieldManager", "fieldValidation", "force")]
        op = {"operationId": "patchCoreV1%s" % r["kind"],
              "parameters": params,
              "requestBody": {"content": {
                  t: {"schema": {"type": "object"}} for t in (
                      "application/json-patch+json", "application/merge-patch+json",
                      "application/apply-patch+yaml")}},
              "x-kubernetes-action": "patch",
              "x-kubernetes-group-version-kind": gvk}
        post = dict(op, operationId="createCoreV1%s" % r["kind"],
                    **{"x-kubernetes-action": "post"})
        paths[base] = {"post": post}
        paths[base + "/{name}"] = {"patch": op}
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}


OPENAPI_V3 = dumps(openapi_v3_doc())

# OpenAPI v2 with no schemas. kubectl before 1.27 refuses to apply until it
# has fetched this document (as protobuf); with no definition for a kind it
# validates nothing on the client and merges with its built-in types, which
# is what it does against any server that lacks the kind's schema.
OPENAPI_V2 = {"swagger": "2.0",
              "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
              "paths": {}, "definitions": {}}
OPENAPI_V2_PROTO_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def proto_bytes_field(number, payload):
    """One length-delimited protobuf field (wire type 2)."""
    out, n = bytearray([number << 3 | 2]), len(payload)
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + payload


def openapi_v2_proto():
    """OPENAPI_V2 in gnostic's openapi_v2.Document encoding: swagger is
    field 1, info field 2 (title 1, version 2); empty messages are left out,
    as protobuf does."""
    info = (proto_bytes_field(1, OPENAPI_V2["info"]["title"].encode())
            + proto_bytes_field(2, OPENAPI_V2["info"]["version"].encode()))
    return proto_bytes_field(1, OPENAPI_V2["swagger"].encode()) + proto_bytes_field(2, info)
OPENAPI_V3_HASH = hashlib.sha512(OPENAPI_V3.encode()).hexdigest()[:128].upper()


# ---------------------------------------------------------------- HTTP

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, cluster, args, ssl_ctx):
        self.cluster = cluster
        self.args = args
        self.ssl_ctx = ssl_ctx
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_ctx is not None:
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, OSError)):
            super().handle_error(request, client_address)
        elif self.args.verbose:
            print("apiserver: %s: %s" % (client_address, exc), file=sys.stderr)


def qbool(v):
    return v is not None and v.lower() in ("1", "true", "yes")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "apiserver"

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(10)
            self.connection.do_handshake()
            self.connection.settimeout(None)

    def log_message(self, fmt, *a):
        if self.server.args.verbose:
            sys.stderr.write("apiserver: %s %s\n" % (self.address_string(), fmt % a))

    def send_response(self, code, message=None):
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    # -- plumbing

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline(100)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                if len(out) + size > MAX_BODY:
                    self.close_connection = True
                    raise ApiError(413, "RequestEntityTooLarge",
                                   "Request entity too large: limit is %d" % MAX_BODY)
                out += self.rfile.read(size)
                self.rfile.readline(10)
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge",
                           "Request entity too large: limit is %d" % MAX_BODY)
        return self.rfile.read(n) if n else b""

    def send_json(self, code, obj, extra_headers=(), raw=None):
        body = (raw if raw is not None else dumps(obj)).encode()
        if (not self.server.args.no_gzip and len(body) > GZIP_THRESHOLD and
                "gzip" in self.headers.get("Accept-Encoding", "")):
            body = gzip.compress(body, 4)
            extra_headers = [("Content-Encoding", "gzip"),
                             ("Vary", "Accept-Encoding")] + list(extra_headers)
        self.send_body(code, body, "application/json", extra_headers)

    def send_body(self, code, body, content_type, extra_headers=()):
        self.send_response(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", content_type)
        for k, v in extra_headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status_code = code

    def send_text(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.status_code = code

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        self.status_code = 0
        self.user = None
        self.is_watch = False
        u = urlsplit(self.path)
        q = parse_qs(u.query, keep_blank_values=True)
        self.q = {k: v[-1] for k, v in q.items()}
        cluster = self.server.cluster
        try:
            if u.path.startswith("/_test/"):
                return self.control(u.path[len("/_test/"):])
            try:
                self.api(method, u.path)
            except ApiError as e:
                self.send_json(e.code, e.body(), e.headers)
        except (BrokenPipeError, ConnectionError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        finally:
            if not u.path.startswith("/_test/"):
                cluster.log_request({"method": method, "path": u.path, "query": self.q,
                                     "contentType": self.headers.get("Content-Type"),
                                     "user": self.user, "code": self.status_code,
                                     "watch": self.is_watch, "time": time.time()})

    def authenticate(self):
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            cert = conn.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return v
        h = self.headers.get("Authorization", "")
        if h[:7].lower() == "bearer ":
            tok = h[7:].strip()
            valid = [self.server.args.token] if self.server.args.token else []
            tf = self.server.args.token_file
            if tf:
                try:
                    with open(tf) as f:
                        t = f.read().strip()
                    if t:
                        valid.append(t)
                except OSError:
                    pass
            for v in valid:
                if tok and hmac.compare_digest(tok.encode(), v.encode()):
                    return "system:serviceaccount:kube-system:jumpgate"
        return None

    def api(self, method, path):
        cluster = self.server.cluster
        if path in ("/healthz", "/livez", "/readyz"):
            return self.send_text(200, "ok")
        self.user = self.authenticate()
        if self.user is None:
            raise err_for_code(401)
        fault = cluster.take_fault(method, path)
        if cluster.latency > 0:
            time.sleep(cluster.latency)
        if fault:
            raise fault
        accept = self.headers.get("Accept", "")
        if path == "/openapi/v2" and method in ("GET", "HEAD") \
                and OPENAPI_V2_PROTO_TYPE in accept:
            # The real server labels it octet-stream too: the spec's own
            # type name has an '@' that Go's media type parser rejects.
            return self.send_body(200, openapi_v2_proto(), "application/octet-stream")
        if accept and not any(t in accept for t in ("json", "*/*")):
            raise ApiError(406, "NotAcceptable",
                           "only the following media types are accepted: application/json")
        if method not in ("GET", "HEAD") and (
                path in ("/version", "/api", "/api/v1", "/apis")
                or path.startswith("/openapi")):
            raise err_method(method)
        if path == "/version":
            return self.send_json(200, SERVER_VERSION)
        if path in ("/api", "/api/"):
            host = self.server.server_address
            return self.send_json(200, {
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "%s:%d" % host[:2]}]})
        if path in ("/api/v1", "/api/v1/"):
            return self.send_json(200, api_resource_list())
        if path in ("/apis", "/apis/"):
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                        "groups": []})
        if path == "/openapi/v2":
            return self.send_json(200, OPENAPI_V2)
        if path == "/openapi/v3":
            return self.send_json(200, {"paths": {"api/v1": {
                "serverRelativeURL": "/openapi/v3/api/v1?hash=" + OPENAPI_V3_HASH}}})
        if path == "/openapi/v3/api/v1":
            return self.send_json(200, None, raw=OPENAPI_V3)
        segs = [unquote(s) for s in path.split("/") if s]
        if len(segs) < 3 or segs[:2] != ["api", "v1"]:
            raise err_no_route()
        rest = segs[2:]
        if rest[0] == "watch":
            self.is_watch = True
            rest = rest[1:]
        ns = name = sub = None
        if rest and rest[0] == "namespaces" and len(rest) >= 3 and \
                not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            ns, res = rest[1], rest[2]
            rest = rest[3:]
        elif rest:
            res = rest[0]
            rest = rest[1:]
        else:
            raise err_no_route()
        if len(rest) > 2:
            raise err_no_route()
        if rest:
            name = rest[0]
        if len(rest) == 2:
            sub = rest[1]
        if res not in RESOURCES or sub not in (None, "status"):
            raise err_no_route()
        namespaced = RESOURCES[res]["namespaced"]
        if (not namespaced and ns is not None) or (namespaced and ns is None and name):
            raise err_no_route()
        if qbool(self.q.get("watch")):
            self.is_watch = True
        if self.is_watch:
            if method != "GET" or sub:
                raise err_method(method)
            verb = "watch"
        elif method in ("GET", "HEAD"):
            verb = "get" if name else "list"
        elif method == "POST" and not name:
            verb = "create"
        elif method == "PUT" and name:
            verb = "update"
        elif method == "PATCH" and name:
            verb = "patch"
        elif method == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise err_method(method)
        if (verb in ("create", "deletecollection") and namespaced and ns is None):
            raise err_method(method)
        deny = cluster.forbidden(self.user, verb, res, ns)
        if deny:
            raise deny
        getattr(self, "verb_" + verb)(res, ns, name, sub)

    def want_table(self):
        a = self.headers.get("Accept", "")
        return "as=Table" in a and "g=meta.k8s.io" in a

    def selectors(self, res):
        return (parse_label_selector(self.q.get("labelSelector")),
                parse_field_selector(self.q.get("fieldSelector"), res))

    def body_json(self, what):
        ctype = self.headers.get("Content-Type", "application/json").split(";")[0].strip()
        raw = self.read_body()
        if what == "object" and ctype not in ("application/json", ""):
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted "
                           "media types include: application/json")
        try:
            return ctype, json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (ValueError, UnicodeDecodeError) as e:
            if ctype == "application/apply-patch+yaml":
                raise ApiError(415, "UnsupportedMediaType",
                               "this test server accepts only JSON apply patches: %s" % e)
            raise err_bad("json: cannot unmarshal the request body: %s" % e)

    # -- verbs

    def verb_get(self, res, ns, name, sub):
        obj = self.server.cluster.get(res, ns, name)
        if self.want_table() and not sub:
            return self.send_json(200, table_of(
                res, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                self.q.get("includeObject", "Metadata")))
        self.send_json(200, obj)

    def verb_list(self, res, ns, name, sub):
        lsel, fsel = self.selectors(res)
        try:
            limit = int(self.q.get("limit") or 0)
        except ValueError:
            raise err_bad("limit: Invalid value: must be an integer")
        meta, items = self.server.cluster.list(res, ns, lsel, fsel, max(limit, 0),
                                               self.q.get("continue"),
                                               self.q.get("resourceVersion"))
        if self.want_table():
            return self.send_json(200, table_of(res, items, meta,
                                                self.q.get("includeObject", "Metadata")))
        head = dumps({"kind": RESOURCES[res]["kind"] + "List", "apiVersion": "v1",
                      "metadata": meta})
        self.send_json(200, None, raw=head[:-1] + ',"items":[' + ",".join(
            self.server.cluster.item_json(res, o) for o in items) + "]}")

    def verb_create(self, res, ns, name, sub):
        _, obj = self.body_json("object")
        dry = self.q.get("dryRun") == "All"
        self.send_json(201, self.server.cluster.create(res, ns, obj, dry))

    def verb_update(self, res, ns, name, sub):
        _, obj = self.body_json("object")
        new, _ = self.server.cluster.update(res, ns, name, obj, sub,
                                            self.q.get("dryRun") == "All")
        self.send_json(200, new)

    def verb_patch(self, res, ns, name, sub):
        ctype, patch = self.body_json("patch")
        cluster = self.server.cluster
        types = {"application/merge-patch+json": "merge",
                 "application/strategic-merge-patch+json": "strategic",
                 "application/json-patch+json": "json",
                 "application/apply-patch+yaml": "apply"}
        kind = types.get(ctype)
        if kind is None:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted "
                           "media types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml, "
                           "application/strategic-merge-patch+json")
        if kind == "apply" and not self.q.get("fieldManager"):
            raise err_bad("PATCH %s: fieldManager is required for apply requests"
                          % self.path.split("?")[0])
        if kind != "json" and not isinstance(patch, dict):
            raise err_bad("the patch must be a JSON object")

        def mutate(old):
            try:
                if old is None:             # server-side apply creating
                    o = copy.deepcopy(patch)
                    o.setdefault("metadata", {}).setdefault("name", name)
                    return o
                if kind == "merge":
                    return merge_patch(old, patch)
                if kind == "json":
                    return json_patch(old, patch)
                return strategic_merge(old, patch)
            except PatchError as e:
                raise ApiError(422, "Invalid", str(e))
        new, created = cluster.update(res, ns, name, None, sub,
                                      self.q.get("dryRun") == "All", mutate,
                                      create_missing=(kind == "apply" and not sub))
        self.send_json(201 if created else 200, new)

    def verb_delete(self, res, ns, name, sub):
        if sub:
            raise err_method("DELETE")
        _, opts = self.body_json("patch")
        opts = opts if isinstance(opts, dict) else {}
        if "gracePeriodSeconds" in self.q:
            try:
                opts["gracePeriodSeconds"] = int(self.q["gracePeriodSeconds"])
            except ValueError:
                raise err_bad("gracePeriodSeconds must be an integer")
        dry = self.q.get("dryRun") == "All" or opts.get("dryRun") == ["All"]
        self.send_json(200, self.server.cluster.delete(res, ns, name, opts, dry))

    def verb_deletecollection(self, res, ns, name, sub):
        lsel, fsel = self.selectors(res)
        _, opts = self.body_json("patch")
        cluster = self.server.cluster
        meta, items = cluster.list(res, ns, lsel, fsel, 0, None, None)
        gone = []
        for o in items:
            try:
                d = dict(cluster.delete(res, o["metadata"].get("namespace"),
                                        o["metadata"]["name"],
                                        opts if isinstance(opts, dict) else {}))
                d.pop("kind", None)
                d.pop("apiVersion", None)
                gone.append(d)
            except ApiError:
                pass
        self.send_json(200, {"kind": RESOURCES[res]["kind"] + "List", "apiVersion": "v1",
                             "metadata": {"resourceVersion": str(cluster.rv)},
                             "items": gone})

    # -- watch

    def verb_watch(self, res, ns, name, sub):
        lsel, fsel = self.selectors(res)
        if name:                    # the deprecated watch of one object
            fsel.append(("metadata.name", "=", name))
        try:
            timeout = float(self.q.get("timeoutSeconds") or 0)
        except ValueError:
            raise err_bad("timeoutSeconds must be a number")
        table = self.want_table()
        w = Watcher(res, ns, lsel, fsel, qbool(self.q.get("allowWatchBookmarks")),
                    table, self.q.get("includeObject", "Metadata"), self.user)
        cluster = self.server.cluster
        error = cluster.start_watch(w, self.q.get("resourceVersion"),
                                    qbool(self.q.get("sendInitialEvents")))
        self.send_response(200)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", "application/json")
        self.chunked = self.request_version != "HTTP/1.0"
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.close_connection = True
        self.end_headers()
        self.status_code = 200
        try:
            if error is not None:
                self.write_event("ERROR", error)
                self.end_stream()
                return
            self.watch_loop(w, timeout)
        finally:
            cluster.stop_watch(w)

    def write_event(self, etype, obj):
        data = ('{"type":"%s","object":%s}\n' % (etype, dumps(obj))).encode()
        if self.chunked:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.wfile.write(data)
        self.wfile.flush()

    def end_stream(self):
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def peer_closed(self):
        """A watch client only ever sends EOF (or close_notify) while we
        stream, so readable means gone."""
        sock = self.connection
        try:
            r, _, _ = select.select([sock], [], [], 0)
            if not r:
                return False
            sock.settimeout(0.0)
            try:
                data = sock.recv(4096)
                return data == b""
            finally:
                sock.settimeout(None)
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except (OSError, ValueError):
            return True

    def watch_loop(self, w, timeout):
        cluster = self.server.cluster
        start = time.monotonic()
        deadline = start + timeout if timeout > 0 else None
        last_bm = start
        next_check = start + 1.0
        while True:
            with cluster.cond:
                while True:
                    now = time.monotonic()
                    next_bm = last_bm + cluster.bookmark_interval
                    if (w.queue and not cluster.paused) or w.kill or cluster.stopping:
                        break
                    if deadline is not None and now >= deadline:
                        break
                    if not cluster.paused and w.bookmarks and (w.bookmark_due or now >= next_bm):
                        break
                    if now >= next_check:
                        break
                    wake = [next_check]
                    if deadline is not None:
                        wake.append(deadline)
                    if w.bookmarks and not cluster.paused:
                        wake.append(next_bm)
                    cluster.cond.wait(max(0.0, min(wake) - now))
                items = [] if cluster.paused else list(w.queue)
                if not cluster.paused:
                    w.queue.clear()
                kill = w.kill
                bookmark = (not cluster.paused and w.bookmarks and
                            (w.bookmark_due or
                             time.monotonic() >= last_bm + cluster.bookmark_interval))
                w.bookmark_due = False
                cur_rv = cluster.rv
                stopping = cluster.stopping
            if kill == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            for etype, obj in items:
                if etype == "BOOKMARK_END":
                    self.write_event("BOOKMARK", bookmark_object(w.res, cur_rv, True))
                elif w.table:
                    self.write_event(etype, table_of(
                        w.res, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                        w.include))
                else:
                    self.write_event(etype, obj)
            if kill == "expire":
                self.write_event("ERROR", status_body(
                    410, "Expired", "too old resource version: %d (%d)" % (cur_rv, cur_rv + 1)))
                return self.end_stream()
            if kill == "clean" or stopping:
                return self.end_stream()
            now = time.monotonic()
            if bookmark:
                self.write_event("BOOKMARK", bookmark_object(w.res, cur_rv))
                last_bm = now
            if deadline is not None and now >= deadline:
                return self.end_stream()
            if now >= next_check:
                next_check = now + 1.0
                if self.peer_closed():
                    self.close_connection = True
                    return

    # -- control

    def control(self, what):
        cluster = self.server.cluster
        if not ipaddress.ip_address(self.client_address[0]).is_loopback and \
                self.authenticate() is None:
            return self.send_json(401, err_for_code(401).body())
        if self.command in ("POST", "PUT", "PATCH", "DELETE"):
            self.read_body()
        q = self.q

        def num(k, d):
            try:
                return float(q.get(k, d))
            except ValueError:
                return d
        out = {"ok": True}
        with cluster.cond:
            if what == "fail":
                cluster.faults.append({"count": int(num("count", 1)),
                                       "code": int(num("code", 500)),
                                       "path": q.get("path", ""),
                                       "method": q.get("method", "").upper(),
                                       "retry_after": int(num("retry_after", 1)),
                                       "message": q.get("message")})
            elif what == "latency":
                cluster.latency = num("ms", 0) / 1000.0
            elif what == "expire-watches":
                if q.get("open", "1") != "0":
                    for w in cluster.watchers:
                        w.kill = w.kill or "expire"
                    out["expired"] = len(cluster.watchers)
                cluster.expire_next += int(num("next", 0))
            elif what == "compact":
                cluster.history.clear()
                cluster.compacted_rv = cluster.rv
                cluster.snapshots.clear()
                out["compactedResourceVersion"] = str(cluster.rv)
            elif what == "drop-watches":
                mode = "clean" if qbool(q.get("clean")) else "drop"
                for w in cluster.watchers:
                    w.kill = mode
                out["dropped"] = len(cluster.watchers)
            elif what == "pause-watches":
                cluster.paused = q.get("on", "1") != "0"
            elif what == "bookmark":
                n = 0
                for w in cluster.watchers:
                    if w.bookmarks:
                        w.bookmark_due = True
                        n += 1
                out["watches"] = n
            elif what == "bookmark-interval":
                cluster.bookmark_interval = max(0.05, num("seconds", 5))
            elif what == "delete-grace":
                cluster.delete_grace = num("seconds", 0)
            elif what == "forbid":
                if qbool(q.get("clear")):
                    cluster.forbid = []
                else:
                    cluster.forbid.append({k: q.get(k, "") for k in
                                           ("verb", "resource", "namespace", "user")})
            elif what == "state":
                out = {"resourceVersion": str(cluster.rv),
                       "compactedResourceVersion": str(cluster.compacted_rv),
                       "historyLength": len(cluster.history),
                       "counts": {r: len(cluster.objects[r]) for r in RESOURCES},
                       "watches": [{"id": w.id, "resource": w.res, "namespace": w.ns,
                                    "bookmarks": w.bookmarks, "user": w.user,
                                    "queued": len(w.queue)}
                                   for w in sorted(cluster.watchers, key=lambda w: w.id)],
                       "faults": cluster.faults, "latencyMs": cluster.latency * 1000,
                       "paused": cluster.paused, "bookmarkInterval": cluster.bookmark_interval}
                if qbool(q.get("objects")):
                    out["objects"] = {r: [cluster.objects[r][k] for k in sorted(cluster.objects[r])]
                                      for r in RESOURCES}
            elif what == "requests":
                since = int(num("since", 0))
                out = {"requests": [r for r in cluster.requests if r["seq"] > since],
                       "next": cluster.request_seq}
            elif what == "requests-clear":
                cluster.requests.clear()
            elif what == "reset":
                cluster.reset()
            elif what == "save":
                pass
            else:
                return self.send_json(404, status_body(404, "NotFound",
                                                       "no such control: " + what))
            cluster.cond.notify_all()
        if what == "save":
            cluster.save()
        self.send_json(200, out)


# ---------------------------------------------------------------- TLS files

def run_openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("apiserver: openssl %s failed: %s" % (args[0], r.stderr.strip()))


def ensure_certs(d):
    os.makedirs(d, mode=0o700, exist_ok=True)
    names = ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"]
    if all(os.path.exists(os.path.join(d, n)) for n in names):
        return
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run_openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt",
                 "-days", "3650", "-subj", "/CN=jumpgate-test-ca",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-addext", "subjectKeyIdentifier=hash"], d)
    for who, subj, ext in (
            ("server", "/CN=kube-apiserver",
             "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes.default.svc\n"
             "extendedKeyUsage=serverAuth\n"),
            ("client", "/O=crater-gateway/CN=jumpgate", "extendedKeyUsage=clientAuth\n")):
        with open(os.path.join(d, who + ".ext"), "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n" + ext)
        run_openssl(["req"] + ec + ["-keyout", who + ".key", "-out", who + ".csr",
                     "-subj", subj], d)
        run_openssl(["x509", "-req", "-in", who + ".csr", "-CA", "ca.crt", "-CAkey",
                     "ca.key", "-set_serial", str(random.randrange(1 << 62)),
                     "-days", "3650", "-out", who + ".crt", "-extfile", who + ".ext"], d)
        os.unlink(os.path.join(d, who + ".csr"))
        os.unlink(os.path.join(d, who + ".ext"))
    for n in names:
        os.chmod(os.path.join(d, n), 0o600)


def write_kubeconfigs(d, server_url, args):
    def b64(name):
        with open(os.path.join(d, name), "rb") as f:
            return base64.b64encode(f.read()).decode()

    def path(name):
        return os.path.abspath(os.path.join(d, name))

    for fname, embed in (("kubeconfig", True), ("kubeconfig-paths", False)):
        tls = server_url.startswith("https:")
        lines = ["apiVersion: v1", "kind: Config", "clusters:",
                 "- name: jumpgate-test", "  cluster:", "    server: " + server_url]
        if tls:
            lines.append("    certificate-authority-data: " + b64("ca.crt") if embed
                         else "    certificate-authority: " + path("ca.crt"))
        lines += ["- name: jumpgate-test-insecure", "  cluster:",
                  "    server: " + server_url]
        if tls:
            lines.append("    insecure-skip-tls-verify: true")
        lines += ["users:", "- name: token-user", "  user:",
                  "    token: " + json.dumps(args.token or "")]
        if tls:
            lines += ["- name: cert-user", "  user:"]
            if embed:
                lines += ["    client-certificate-data: " + b64("client.crt"),
                          "    client-key-data: " + b64("client.key")]
            else:
                lines += ["    client-certificate: " + path("client.crt"),
                          "    client-key: " + path("client.key")]
        if args.token_file:
            lines += ["- name: tokenfile-user", "  user:",
                      "    tokenFile: " + os.path.abspath(args.token_file)]
        lines.append("contexts:")
        ctxs = [("jumpgate-token", "jumpgate-test", "token-user"),
                ("jumpgate-insecure", "jumpgate-test-insecure", "token-user")]
        if tls:
            ctxs.append(("jumpgate-cert", "jumpgate-test", "cert-user"))
        if args.token_file:
            ctxs.append(("jumpgate-tokenfile", "jumpgate-test", "tokenfile-user"))
        for name, cl, user in ctxs:
            lines += ["- name: " + name, "  context:", "    cluster: " + cl,
                      "    user: " + user, "    namespace: " + args.namespace]
        lines += ["current-context: jumpgate-token", "preferences: {}", ""]
        tmp = os.path.join(d, "." + fname + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines))
        os.replace(tmp, os.path.join(d, fname))


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="Kubernetes API test server (see the file's top).")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--tls-dir", required=True)
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--token")
    ap.add_argument("--token-file")
    ap.add_argument("--state")
    ap.add_argument("--preload")
    ap.add_argument("--port-file")
    ap.add_argument("--namespace", default="crater-workspace")
    ap.add_argument("--bookmark-interval", type=float, default=5.0)
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--max-watches", type=int, default=64)
    ap.add_argument("--delete-grace", type=float, default=0.0)
    ap.add_argument("--lenient", action="store_true")
    ap.add_argument("--no-gzip", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host == "localhost":
        host = "127.0.0.1"
    try:
        if not ipaddress.ip_address(host).is_loopback:
            sys.exit("apiserver: refusing to listen on %s: loopback only" % host)
    except ValueError:
        sys.exit("apiserver: --listen needs an IP address: %s" % args.listen)

    cluster = Cluster(args)
    if args.state and os.path.exists(args.state):
        cluster.load(args.state)
    cluster.make_namespaces()
    ctx = None
    os.makedirs(args.tls_dir, mode=0o700, exist_ok=True)
    if not args.plain:
        ensure_certs(args.tls_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(args.tls_dir, "server.crt"),
                            os.path.join(args.tls_dir, "server.key"))
        ctx.load_verify_locations(os.path.join(args.tls_dir, "ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])

    srv = Server((host, int(port or 0)), cluster, args, ctx)
    bound = srv.server_address[1]
    url = "%s://%s:%d" % ("http" if args.plain else "https",
                          "[%s]" % host if ":" in host else host, bound)
    write_kubeconfigs(args.tls_dir, url, args)
    if args.preload:
        with open(args.preload) as f:
            for o in json.load(f).get("items", []):
                res = KIND_TO_RES[o["kind"]]
                cluster.create(res, o.get("metadata", {}).get("namespace", "default")
                               if RESOURCES[res]["namespaced"] else None, o)
        # Serialize now, not on the first list: a preload is for large
        # lists, and their first reader should not pay for the encoding.
        with cluster.lock:
            for res, objs in cluster.objects.items():
                for o in objs.values():
                    cluster.item_json(res, o)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    if args.state:
        threading.Thread(target=cluster.saver, daemon=True).start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % bound)
        os.replace(tmp, args.port_file)
    print("apiserver: listening on %s (kubeconfig %s)"
          % (url, os.path.join(args.tls_dir, "kubeconfig")), file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    with cluster.cond:
        cluster.stopping = True
        cluster.cond.notify_all()
    cluster.save_event.set()
    srv.shutdown()
    srv.server_close()
    deadline = time.monotonic() + 2
    while cluster.watchers and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        cluster.save()
    except OSError as e:
        print("apiserver: cannot save %s: %s" % (args.state, e), file=sys.stderr)
    print("apiserver: stopped at resourceVersion %d" % cluster.rv, file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
