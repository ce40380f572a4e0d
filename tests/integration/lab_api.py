#!/usr/bin/env python3
"""lab_api.py: what lab_buildbot.sh asks a Buildbot master, through its REST
API (/api/v2, JSON; the force scheduler through JSON-RPC), with python3's
urllib only. Each command prints plain lines for the shell; any failure
exits 1 with a message saying what and where.

    lab_api.py URL workers N TIMEOUT         wait until N workers are connected
    lab_api.py URL force SCHEDULER BUILDER   force one builder: prints its build request id
    lab_api.py URL wait TIMEOUT BRID...      wait until the requests are complete: per
                                             request, its builds, oldest first:
                                             "BRID BUILDER NUMBER RESULT STATE"
    lab_api.py URL build BUILDER NUMBER TIMEOUT  wait until that build is complete:
                                             "BUILDER NUMBER RESULT STATE"
    lab_api.py URL builds                    every build: "BUILDER NUMBER RESULT STATE"
    lab_api.py URL stop BUILDER NUMBER       stop a build (as its Stop button does)
    lab_api.py URL log BUILDER NUMBER STEP LOG   a log's text
"""
import json
import sys
import time
import urllib.request

RESULTS = ["success", "warnings", "failure", "skipped", "exception", "retry", "cancelled"]


def die(msg):
    print(f"lab_api: {msg}", file=sys.stderr)
    sys.exit(1)


def get(url, path):
    try:
        with urllib.request.urlopen(url + "/api/v2/" + path, timeout=10) as r:
            return json.load(r)
    except OSError as e:
        die(f"GET {path}: {e}")


def raw(url, path):
    with urllib.request.urlopen(url + "/api/v2/" + path, timeout=10) as r:
        return r.read().decode("utf-8", "replace")


def until(timeout, what, fn):
    end = time.monotonic() + float(timeout)
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            die(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def builder_id(url, name):
    for b in get(url, "builders")["builders"]:
        if b["name"] == name:
            return b["builderid"]
    die(f"no builder '{name}'")


def rpc(url, path, method, params, what):
    """A JSON-RPC call on the REST API's path; its answer, or die saying what."""
    body = json.dumps({"jsonrpc": "2.0", "method": method, "id": 1, "params": params}).encode()
    req = urllib.request.Request(f"{url}/api/v2/{path}", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = json.load(r)
    except OSError as e:
        die(f"{what}: POST {path}: {e}")
    if "error" in answer:
        die(f"{what}: {answer['error']}")
    return answer


def main(url, cmd, *args):
    if cmd == "workers":
        n, timeout = int(args[0]), args[1]

        def connected():
            try:  # the master may not listen yet
                with urllib.request.urlopen(url + "/api/v2/workers", timeout=10) as r:
                    return sum(1 for w in json.load(r)["workers"] if w["connected_to"]) >= n
            except OSError:
                return False
        until(timeout, f"{n} connected workers", connected)
    elif cmd == "force":
        sched, builder = args
        answer = rpc(url, f"forceschedulers/{sched}", "force",
                     {"builderid": builder_id(url, builder), "reason": "lab_buildbot.sh"},
                     f"force {builder}")
        _, brids = answer["result"]
        print(list(brids.values())[0])
    elif cmd == "wait":
        timeout, brids = args[0], args[1:]
        for brid in brids:
            until(timeout, f"build request {brid}",
                  lambda: get(url, f"buildrequests/{brid}")["buildrequests"][0]["complete"])
        names = {b["builderid"]: b["name"] for b in get(url, "builders")["builders"]}
        for brid in brids:
            for b in sorted(get(url, f"builds?buildrequestid={brid}")["builds"], key=lambda b: b["buildid"]):
                print(brid, names[b["builderid"]], b["number"], RESULTS[b["results"]],
                      b["state_string"].replace(" ", "_"))
    elif cmd == "build":
        builder, number, timeout = args
        bid = builder_id(url, builder)

        def complete():
            b = get(url, f"builders/{bid}/builds/{number}")["builds"]
            return b and b[0]["complete"] and b[0]
        b = until(timeout, f"build {number} of {builder}", complete)
        print(builder, number, RESULTS[b["results"]], b["state_string"].replace(" ", "_"))
    elif cmd == "stop":
        builder, number = args
        rpc(url, f"builders/{builder_id(url, builder)}/builds/{number}", "stop",
            {"reason": "lab_buildbot.sh"}, f"stop {builder} {number}")
    elif cmd == "builds":
        names = {b["builderid"]: b["name"] for b in get(url, "builders")["builders"]}
        for b in sorted(get(url, "builds")["builds"], key=lambda b: (names[b["builderid"]], b["number"])):
            print(names[b["builderid"]], b["number"], RESULTS[b["results"]] if b["complete"] else "running",
                  b["state_string"].replace(" ", "_"))
    elif cmd == "log":
        builder, number, step, logname = args
        base = f"builders/{builder_id(url, builder)}/builds/{number}/steps/{step}/logs"
        slugs = [lg["slug"] for lg in get(url, base)["logs"] if lg["name"] == logname]
        if not slugs:
            die(f"no log '{logname}' in step {step} of build {number} of {builder}")
        print(raw(url, f"{base}/{slugs[0]}/raw"), end="")
    else:
        die(f"unknown command {cmd}")


if __name__ == "__main__":
    main(*sys.argv[1:])
