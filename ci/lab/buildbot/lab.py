"""lab.py: the lab's description, read from files, for master.cfg.

Owns reading the lab file (format: README.md beside it), each
host's stations file and hilrun's card files into plain data; nothing here
knows Buildbot. Only what the master needs is read from the stations and
card files (station names, their cards, windows-image; a card's kind and
guests): hilrun on the worker reads them whole and reports their errors
itself (exit 2). Every error names the file, and its line where it has one.
"""
import os
import re

LAB_KEYS = ("results-server", "cards", "nightly", "worker-port", "www-port", "www-url")
HOST_KEYS = ("worker", "password-file", "stations", "key", "hilrun", "out", "options",
             "station-options", "may-hang")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$")   # a Buildbot identifier


class LabError(Exception):
    pass


def _lines(path):
    """(line number, key, words, rest) for each line that is not blank or a
    comment, hilrun's way: '#' starts a comment at the start of a line or
    after a space."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise LabError(f"cannot read {path}: {e.strerror}") from e
    for no, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            words = line.split()
            yield no, words[0], words[1:], line[len(words[0]):].strip()


def _format_first(path, lines):
    for no, key, words, _ in lines:
        if key != "format" or words != ["1"]:
            raise LabError(f"{path}:{no}: expected 'format 1' as the first line")
        return
    raise LabError(f"{path}:1: expected 'format 1' as the first line (file is empty)")


def read_card(path):
    """A card file's id, kind and guests."""
    lines = _lines(path)
    _format_first(path, lines)
    card = {"path": path, "kind": None, "guests": []}
    for no, key, words, _ in lines:
        if key == "kind":
            card["kind"] = words[0] if words else None
        elif key == "guest":
            card["guests"] += words
    card["id"] = os.path.basename(path)[:-len(".card")]
    return card


def read_cards(directory):
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".card"))
    except OSError as e:
        raise LabError(f"cannot open card directory {directory}: {e.strerror}") from e
    return {c["id"]: c for c in (read_card(os.path.join(directory, n)) for n in names)}


def read_stations(path):
    """Each station's name, card and windows-image, in the file's order."""
    lines = _lines(path)
    _format_first(path, lines)
    stations = []
    for no, key, words, _ in lines:
        if key == "station":
            if len(words) != 1 or not NAME_RE.match(words[0]):
                raise LabError(f"{path}:{no}: expected one station name (letters, digits, '.', '_', '-') after 'station'")
            stations.append({"name": words[0], "line": no, "card": None, "windows_image": None})
        elif not stations:
            raise LabError(f"{path}:{no}: expected 'station NAME' before '{key}'")
        elif key in ("card", "windows-image") and words:
            stations[-1][key.replace("-", "_")] = words[0]
    for s in stations:
        if not s["card"]:
            raise LabError(f"{path}:{s['line']}: station '{s['name']}' names no card")
    return stations


def read_lab(path):
    """The lab: its settings and hosts, each host's stations read, every
    station's card found in the card files."""
    base = os.path.dirname(os.path.abspath(path))
    lines = _lines(path)
    _format_first(path, lines)
    lab = {"path": path, "nightly": "02:00", "worker-port": "9989", "www-port": "8010",
           "cards": None, "results-server": None, "www-url": None, "hosts": []}
    host = None
    for no, key, words, rest in lines:
        if key == "host":
            if len(words) != 1 or not NAME_RE.match(words[0]):
                raise LabError(f"{path}:{no}: expected one host name (letters, digits, '.', '_', '-') after 'host'")
            host = {"name": words[0], "line": no, "worker": words[0], "hilrun": "hilrun",
                    "out": None, "options": [], "station-options": {}, "may-hang": [],
                    "password-file": None,
                    "stations": None, "key": None}
            lab["hosts"].append(host)
        elif key in HOST_KEYS and host is not None:
            if not words:
                raise LabError(f"{path}:{no}: expected a value after '{key}'")
            if key in ("options", "may-hang"):
                host[key] += words
            elif key == "station-options":
                if len(words) < 2:
                    raise LabError(f"{path}:{no}: expected 'station-options STATION OPTIONS...'")
                host[key].setdefault(words[0], []).extend(words[1:])
            elif len(words) != 1:
                raise LabError(f"{path}:{no}: expected one value after '{key}'")
            else:
                host[key] = os.path.join(base, words[0]) if key in ("password-file", "stations") else words[0]
        elif key in LAB_KEYS and host is None:
            if len(words) != 1:
                raise LabError(f"{path}:{no}: expected one value after '{key}'")
            lab[key] = os.path.join(base, words[0]) if key == "cards" else words[0]
        else:
            where = "a host's" if key in HOST_KEYS else "the lab's (before the first 'host')"
            known = key in HOST_KEYS or key in LAB_KEYS
            raise LabError(f"{path}:{no}: " + (f"'{key}' is {where} setting" if known else
                           f"unknown key '{key}' (expected one of: {', '.join(LAB_KEYS + ('host',) + HOST_KEYS)})"))
    for k in ("results-server", "cards"):
        if not lab[k]:
            raise LabError(f"{path}: no '{k}'")
    if not re.match(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", lab["nightly"]):
        raise LabError(f"{path}: expected 'nightly HH:MM', got '{lab['nightly']}'")
    # a port number is an int to Buildbot; a string is a Twisted strport
    for k in ("worker-port", "www-port"):
        if lab[k].isdigit():
            lab[k] = int(lab[k])
    if not lab["www-url"] and not isinstance(lab["www-port"], int):
        raise LabError(f"{path}: 'www-port {lab['www-port']}' is not a plain port: give 'www-url' too")
    if not lab["hosts"]:
        raise LabError(f"{path}: no 'host'")
    cards = read_cards(lab["cards"])
    workers, builders = set(), set()
    for h in lab["hosts"]:
        for k in ("password-file", "stations", "key"):
            if not h[k]:
                raise LabError(f"{path}:{h['line']}: host '{h['name']}' needs '{k}'")
        if h["worker"] in workers:
            raise LabError(f"{path}:{h['line']}: worker '{h['worker']}' named twice")
        workers.add(h["worker"])
        try:
            with open(h["password-file"], encoding="utf-8") as f:
                h["password"] = f.read().strip()
        except OSError as e:
            raise LabError(f"{path}:{h['line']}: cannot read {h['password-file']}: {e.strerror}") from e
        h["stations-list"] = read_stations(h["stations"])
        with open(h["stations"], encoding="utf-8") as f:
            h["stations-text"] = f.read()
        names = {s["name"] for s in h["stations-list"]}
        for key in ("may-hang", "station-options"):
            for s in h[key]:
                if s not in names:
                    raise LabError(f"{path}: {key}: host '{h['name']}' has no station '{s}' ({h['stations']})")
        for s in h["stations-list"]:
            card = cards.get(s["card"])
            if not card:
                raise LabError(f"{h['stations']}:{s['line']}: no card '{s['card']}' in {lab['cards']}")
            if s["name"] in builders:
                raise LabError(f"{h['stations']}:{s['line']}: station '{s['name']}' is another host's too "
                               "(station names are builder names: one lab, one name each)")
            builders.add(s["name"])
            s["kind"] = card["kind"]
            s["options"] = h["options"] + h["station-options"].get(s["name"], [])
            s["may_hang"] = s["name"] in h["may-hang"] or may_install_vendor_driver(card, s)
    return lab


def may_install_vendor_driver(card, station):
    """A build may hang its host when one of its cells installs a vendor
    driver on a passed-through card: the windows guest runs the lab's driver
    package when its image holds one (guests/windows/README.md), and it runs
    only where the station names a Windows image. The master cannot look
    inside the image, so any such station counts."""
    return card["kind"] == "vfio" and "windows" in card["guests"] and bool(station["windows_image"])
