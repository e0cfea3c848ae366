"""The proxy's own clock per resource: when it saw a create or delete
succeed (monotonic seconds), with what the rules need to remember about the
resource; and the synthesized network interfaces that outlive a deleted
load balancer or database."""

import threading
import time


def now():
    return time.monotonic()


class State:
    def __init__(self):
        self._lock = threading.Lock()
        self._kinds = {}
        self._enis = []

    def put(self, kind, key, **info):
        info.setdefault("t", now())
        with self._lock:
            self._kinds.setdefault(kind, {})[key] = info
        return info

    def get(self, kind, key):
        with self._lock:
            return self._kinds.get(kind, {}).get(key)

    def update(self, kind, key, **info):
        with self._lock:
            entry = self._kinds.get(kind, {}).get(key)
            if entry is not None:
                entry.update(info)

    def pop(self, kind, key):
        with self._lock:
            return self._kinds.get(kind, {}).pop(key, None)

    def items(self, kind):
        with self._lock:
            return list(self._kinds.get(kind, {}).items())

    def age(self, kind, key):
        """Seconds since the entry was recorded, or None."""
        entry = self.get(kind, key)
        return None if entry is None else now() - entry["t"]

    def add_eni(self, eni):
        with self._lock:
            self._enis.append(eni)

    def enis(self):
        """Network interfaces still lingering."""
        t = now()
        with self._lock:
            self._enis = [e for e in self._enis if e["until"] > t]
            return [dict(e) for e in self._enis]

    def settle(self, seconds):
        """Lets `seconds` pass for every clock at once: creates, deletes and
        their windows all move that far into the past (the environment was
        made long ago). Only what is recorded moves; the settings stay."""
        with self._lock:
            for entries in self._kinds.values():
                for info in entries.values():
                    for k in ("t", "until", "validated_at", "issued_at"):
                        if isinstance(info.get(k), (int, float)):
                            info[k] -= seconds
            for eni in self._enis:
                eni["until"] -= seconds

    def reset(self):
        with self._lock:
            self._kinds.clear()
            self._enis.clear()
