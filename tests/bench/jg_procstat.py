#!/usr/bin/env python3
"""jg_procstat.py: memory and CPU of a process and its descendants, for the
jump benchmark.  Reads /proc only; never signals anything.

  jg_procstat.py tree PID
      prints "procs=N rss_kib=R pss_kib=P cpu_s=C" summed over PID and every
      live descendant (found by ppid).  cpu_s is utime+stime+cutime+cstime of
      each: a child that exited and was reaped is in its parent's cutime.
  jg_procstat.py wait PID TIMEOUT_S [MAX_PROCS]
      waits (bounded) until the tree has at most MAX_PROCS (default 1)
      processes; exit 0 when it does, 1 on timeout.
"""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    # comm may hold spaces and parentheses: fields start after the last ')'.
    return s[s.rindex(")") + 2:].split()


def tree(root):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(stat_fields(int(d))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rollup(pid):
    rss = pss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def cmd_tree(root):
    procs = rss = pss = ticks = 0
    for p in tree(root):
        try:
            f = stat_fields(p)
            r, q = rollup(p)
        except (OSError, ValueError):
            continue    # exited meanwhile
        # utime stime cutime cstime are fields 14-17, here 11-14.
        ticks += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        rss += r
        pss += q
        procs += 1
    print("procs=%d rss_kib=%d pss_kib=%d cpu_s=%.2f" %
          (procs, rss, pss, ticks / TICK))


def cmd_wait(root, timeout, max_procs):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(tree(root)) <= max_procs:
            return 0
        time.sleep(0.05)
    return 1


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "tree":
        cmd_tree(int(sys.argv[2]))
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "wait":
        mp = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        return cmd_wait(int(sys.argv[2]), float(sys.argv[3]), mp)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
