"""The realism layer: an HTTP proxy between envctl and moto that behaves like
AWS where it matters to a provisioner (asynchronous states, eventual
consistency, dependency windows, propagation delays, throttling, AWS's
character rules, injected faults), with time scaled.

Run it with `python -m realism` (PYTHONPATH=integration) or through
`integration/realism.sh`. Every rule is listed in README.md with its source.
"""
