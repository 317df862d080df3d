"""`finfocus-sandbox <provider> ...`: serve a fake provider API until SIGTERM or SIGINT.

    finfocus-sandbox stripe --port 12111 --seed 1 --days 120 --balance-transactions 2000 \\
        --api-key sk_test_finfocus --accounts acct_1ConnectedJP,acct_1ConnectedEU \\
        --faults '[{"kind": "rate_limit", "path": "^/v1/charges$", "times": 2}]'

Prints exactly one line to stdout, the base URL, once the server accepts requests; then
one line per request on stderr (without credentials), unless --quiet.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from finfocus_sandbox.stripe import FakeStripe, StripeDataset


def _faults(value: str) -> list[dict[str, Any]]:
    """A JSON list (or object) of faults, inline or as @path/to/file.json."""
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--faults is not valid JSON: {exc}") from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    if not all(isinstance(item, dict) for item in items):
        raise argparse.ArgumentTypeError("--faults must be a JSON object or a list of objects")
    return items


def _accounts(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finfocus-sandbox", description="Serve a fake billing provider API locally."
    )
    providers = parser.add_subparsers(dest="provider", required=True)
    stripe = providers.add_parser("stripe", help="a fake Stripe API")
    stripe.add_argument("--host", default="127.0.0.1")
    stripe.add_argument("--port", type=int, default=12111, help="0 picks a free port")
    stripe.add_argument("--seed", type=int, default=1)
    stripe.add_argument("--days", type=int, default=120)
    stripe.add_argument(
        "--balance-transactions", type=int, default=2000, help="balance transactions per account"
    )
    stripe.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accepted secret key (repeatable; default sk_test_finfocus)",
    )
    stripe.add_argument(
        "--accounts", type=_accounts, default=[], help="comma-separated connected account ids"
    )
    stripe.add_argument("--now", type=int, default=None, help="dataset clock (unix seconds)")
    stripe.add_argument("--faults", type=_faults, default=[], help="JSON list or @file")
    stripe.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    dataset = StripeDataset.generate(
        seed=args.seed,
        days=args.days,
        balance_transactions=args.balance_transactions,
        connected_accounts=args.accounts,
        now=args.now,
    )
    fake = FakeStripe(
        dataset,
        api_keys=args.api_keys or ["sk_test_finfocus"],
        host=args.host,
        port=args.port,
        echo_requests=None if args.quiet else sys.stderr,
    )
    try:
        fake.faults.add(*args.faults)
    except (TypeError, ValueError) as exc:
        print(f"finfocus-sandbox: invalid --faults: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        url = fake.start()
    except OSError as exc:
        print(f"finfocus-sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(url, flush=True)
    print(
        f"finfocus-sandbox: fake Stripe for {', '.join(dataset.account_ids)} "
        f"({args.balance_transactions} balance transactions each); Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
