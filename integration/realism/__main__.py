"""Command line of the realism proxy: parses options into settings and
starts the server. `--help` lists every duration (real and scaled) with its
AWS source."""

import argparse
import json
import sys

from .config import DURATIONS, RULES, DEFAULTS


def _epilog():
    scale = DEFAULTS["scale"]
    lines = ["durations (real seconds -> scaled at the default x1/60, floor %.1fs), set with --duration NAME=REAL:"
             % DEFAULTS["floor"]]
    for name, (real, what, src) in DURATIONS.items():
        lines.append("  %-24s %8ss -> %6.2fs  %s\n  %24s %s" % (name, real, max(real * scale, DEFAULTS["floor"]), what, "", src))
    lines.append("rules (--disable NAME): " + ", ".join(RULES))
    lines.append("admin: GET /realism/stats, GET|POST /realism/config (JSON merge), POST /realism/reset")
    lines.append("every rule, its error texts and sources: integration/realism/README.md")
    return "\n".join(lines)


def parse(argv):
    p = argparse.ArgumentParser(prog="realism", description="AWS realism proxy in front of moto.",
                                epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True, help="loopback port to listen on")
    p.add_argument("--moto", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--scale", type=float, help="time scale (default 1/60 = %.5f)" % DEFAULTS["scale"])
    p.add_argument("--floor", type=float, help="minimum scaled duration in seconds (default %s)" % DEFAULTS["floor"])
    p.add_argument("--seed", type=int, help="seed of the fault RNG (default 1)")
    p.add_argument("--public-zone", action="append", default=[], metavar="NAME",
                   help="the registrar delegates NAME to its Route 53 zone (repeatable)")
    p.add_argument("--fault-rate", type=float, help="share of calls answered 5xx before forwarding (default 0)")
    p.add_argument("--fault-action", action="append", default=[], metavar="SERVICE:ACTION",
                   help="limit 5xx faults to these calls (fnmatch, repeatable)")
    p.add_argument("--lost-rate", type=float, help="share of create calls whose answer is lost (default 0)")
    p.add_argument("--lost-mode", choices=["drop", "500"], help="lost answer: drop the connection or answer 500")
    p.add_argument("--throttle", action="store_true", help="enable per-API token buckets (real time)")
    p.add_argument("--acm-fail", action="append", default=[], metavar="DOMAIN=REASON",
                   help="certificates for DOMAIN (and below) go FAILED with REASON")
    p.add_argument("--duration", action="append", default=[], metavar="NAME=REAL_SECONDS")
    p.add_argument("--disable", action="append", default=[], metavar="RULE", help="turn a rule off")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="any setting, as JSON")
    a = p.parse_args(argv)
    o = {}
    for key, val in (("scale", a.scale), ("floor", a.floor), ("seed", a.seed), ("fault_rate", a.fault_rate),
                     ("lost_rate", a.lost_rate), ("lost_mode", a.lost_mode)):
        if val is not None:
            o[key] = val
    if a.public_zone:
        o["public_zones"] = a.public_zone
    if a.fault_action:
        o["fault_actions"] = a.fault_action
    if a.throttle:
        o["throttle"] = True
    if a.acm_fail:
        o["acm_fail"] = dict(x.split("=", 1) for x in a.acm_fail)
    if a.duration:
        o["durations"] = {k: float(v) for k, v in (x.split("=", 1) for x in a.duration)}
    if a.disable:
        o["rules"] = {r: False for r in a.disable}
    for x in a.set:
        k, v = x.split("=", 1)
        o[k] = json.loads(v)
    return a, o


def main(argv=None):
    args, overrides = parse(sys.argv[1:] if argv is None else argv)
    from .rules import ORDER
    from .server import serve
    print("realism proxy on 127.0.0.1:%d -> %s %s" % (args.port, args.moto, json.dumps(overrides)), flush=True)
    serve(args.port, args.moto, overrides, ORDER)


if __name__ == "__main__":
    main()
