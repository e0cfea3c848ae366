"""Parses an OpenMetrics exposition (a /metrics answer) on stdin with the
Prometheus project's own parser (prometheus_client.openmetrics.parser,
strict: a malformed exposition, a missing `# EOF`, a sample of an undeclared
family all fail) and prints its samples as JSON lines:
{"name": ..., "labels": {...}, "value": ..., "family": ..., "type": ...}.
Run with the apitools venv's python (integration/apitools.sh bin)."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            print(json.dumps({"name": s.name, "labels": s.labels, "value": s.value,
                              "family": family.name, "type": family.type}))


if __name__ == "__main__":
    main()
