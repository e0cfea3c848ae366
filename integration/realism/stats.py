"""Counters of the proxy's interventions, one per rule outcome, served as JSON
on GET /realism/stats so a test can assert that a fault really happened."""

import threading


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}

    def bump(self, name, n=1):
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def snapshot(self):
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self):
        with self._lock:
            self._counts.clear()
