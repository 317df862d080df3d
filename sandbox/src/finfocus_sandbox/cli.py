"""`finfocus-sandbox <provider> ...`: serve a fake provider API until SIGTERM or SIGINT.

    finfocus-sandbox stripe --port 12111 --seed 1 --days 120 --balance-transactions 2000 \\
        --api-key sk_test_finfocus --accounts acct_1ConnectedJP,acct_1ConnectedEU \\
        --faults '[{"kind": "rate_limit", "path": "^/v1/charges$", "times": 2}]'
    finfocus-sandbox anthropic --port 12112 --seed 1 --days 60 --workspaces 3 \\
        --admin-key sk-ant-admin01-finfocus-sandbox
    finfocus-sandbox openai --port 12113 --seed 1 --days 90 --projects 4 \\
        --admin-key sk-admin-finfocus --api-key sk-proj-finfocus
    finfocus-sandbox gcp --port 12114 --seed 1 --days 45 --credentials-out sa.json

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

from finfocus_sandbox.anthropic import DEFAULT_ADMIN_KEY, AnthropicDataset, FakeAnthropic
from finfocus_sandbox.azure import AzureDataset, FakeAzure
from finfocus_sandbox.gcp import FakeGCP, GCPBillingDataset
from finfocus_sandbox.openai import FakeOpenAI, OpenAIDataset
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

    anthropic = providers.add_parser("anthropic", help="a fake Anthropic Admin API")
    anthropic.add_argument("--host", default="127.0.0.1")
    anthropic.add_argument("--port", type=int, default=12112, help="0 picks a free port")
    anthropic.add_argument("--seed", type=int, default=1)
    anthropic.add_argument("--days", type=int, default=60, help="complete days of usage")
    anthropic.add_argument("--workspaces", type=int, default=3, help="besides the default one")
    anthropic.add_argument(
        "--admin-key",
        action="append",
        dest="admin_keys",
        metavar="KEY",
        help=f"accepted Admin API key (repeatable; default {DEFAULT_ADMIN_KEY})",
    )
    anthropic.add_argument("--now", type=int, default=None, help="dataset clock (unix seconds)")
    anthropic.add_argument("--faults", type=_faults, default=[], help="JSON list or @file")
    anthropic.add_argument("--quiet", action="store_true", help="do not log requests to stderr")

    openai = providers.add_parser("openai", help="a fake OpenAI admin API (costs, usage)")
    openai.add_argument("--host", default="127.0.0.1")
    openai.add_argument("--port", type=int, default=12113, help="0 picks a free port")
    openai.add_argument("--seed", type=int, default=1)
    openai.add_argument("--days", type=int, default=90)
    openai.add_argument("--projects", type=int, default=4)
    openai.add_argument("--keys-per-project", type=int, default=2)
    openai.add_argument(
        "--admin-key",
        action="append",
        dest="admin_keys",
        metavar="KEY",
        help="accepted admin key (repeatable; default sk-admin-finfocus)",
    )
    openai.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        default=[],
        metavar="KEY",
        help="a valid key without admin scopes, answered 403 (repeatable)",
    )
    openai.add_argument("--now", type=int, default=None, help="dataset clock (unix seconds)")
    openai.add_argument("--faults", type=_faults, default=[], help="JSON list or @file")
    openai.add_argument("--quiet", action="store_true", help="do not log requests to stderr")

    gcp = providers.add_parser("gcp", help="a fake Google Cloud Billing export in BigQuery")
    gcp.add_argument("--host", default="127.0.0.1")
    gcp.add_argument("--port", type=int, default=12114, help="0 picks a free port")
    gcp.add_argument("--seed", type=int, default=1)
    gcp.add_argument("--days", type=int, default=45)
    gcp.add_argument("--projects", type=int, default=4)
    gcp.add_argument("--resources-per-project", type=int, default=6)
    gcp.add_argument("--billing-account", default=None, help="e.g. 01A2B3-C4D5E6-F7A8B9")
    gcp.add_argument(
        "--credentials-out",
        default=None,
        metavar="PATH",
        help="write a service-account key JSON whose token_uri is this fake",
    )
    gcp.add_argument("--pending-polls", type=int, default=1, help="jobComplete:false answers")
    gcp.add_argument("--allow-anonymous", action="store_true", help="accept unauthenticated calls")
    gcp.add_argument("--now", type=int, default=None, help="dataset clock (unix seconds)")
    gcp.add_argument("--faults", type=_faults, default=[], help="JSON list or @file")
    gcp.add_argument("--quiet", action="store_true", help="do not log requests to stderr")

    azure = providers.add_parser("azure", help="a fake Entra ID + Cost Management (cost details)")
    azure.add_argument("--host", default="127.0.0.1")
    azure.add_argument("--port", type=int, default=12115, help="0 picks a free port")
    azure.add_argument("--seed", type=int, default=1)
    azure.add_argument("--days", type=int, default=60)
    azure.add_argument("--agreement", choices=["EA", "MCA"], default="EA")
    azure.add_argument("--subscriptions", type=int, default=3)
    azure.add_argument("--resources-per-subscription", type=int, default=8)
    azure.add_argument("--client-id", default="00000000-0000-0000-0000-00000000f1f0")
    azure.add_argument("--client-secret", default="finfocus-sandbox-secret")
    azure.add_argument("--poll-retry-after", type=int, default=1, help="Retry-After of 202s")
    azure.add_argument("--polls-before-ready", type=int, default=1)
    azure.add_argument("--now", type=int, default=None, help="dataset clock (unix seconds)")
    azure.add_argument("--faults", type=_faults, default=[], help="JSON list or @file")
    azure.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.provider == "anthropic":
        return _serve_anthropic(args)
    if args.provider == "openai":
        return _serve_openai(args)
    if args.provider == "gcp":
        return _serve_gcp(args)
    if args.provider == "azure":
        return _serve_azure(args)
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
    banner = (
        f"fake Stripe for {', '.join(dataset.account_ids)} "
        f"({args.balance_transactions} balance transactions each)"
    )
    return serve(fake, args, banner)


def _serve_anthropic(args: argparse.Namespace) -> int:
    dataset = AnthropicDataset.generate(
        seed=args.seed, days=args.days, workspaces=args.workspaces, now=args.now
    )
    fake = FakeAnthropic(
        dataset,
        admin_keys=args.admin_keys or [DEFAULT_ADMIN_KEY],
        host=args.host,
        port=args.port,
        echo_requests=None if args.quiet else sys.stderr,
    )
    banner = (
        f"fake Anthropic Admin API for organization {dataset.organization['id']} "
        f"({args.days} days, {args.workspaces} workspaces besides the default)"
    )
    return serve(fake, args, banner)


def _serve_openai(args: argparse.Namespace) -> int:
    dataset = OpenAIDataset.generate(
        seed=args.seed,
        days=args.days,
        projects=args.projects,
        keys_per_project=args.keys_per_project,
        now=args.now,
    )
    fake = FakeOpenAI(
        dataset,
        admin_keys=args.admin_keys or ["sk-admin-finfocus"],
        api_keys=args.api_keys,
        host=args.host,
        port=args.port,
        echo_requests=None if args.quiet else sys.stderr,
    )
    banner = (
        f"fake OpenAI admin API for organization {dataset.organization['id']} "
        f"({args.days} days, {len(dataset.projects)} projects)"
    )
    return serve(fake, args, banner)


def _serve_gcp(args: argparse.Namespace) -> int:
    dataset = GCPBillingDataset.generate(
        seed=args.seed,
        days=args.days,
        projects=args.projects,
        resources_per_project=args.resources_per_project,
        billing_account_id=args.billing_account,
        now=args.now,
    )
    fake = FakeGCP(
        dataset,
        pending_polls=args.pending_polls,
        allow_anonymous=args.allow_anonymous,
        host=args.host,
        port=args.port,
        echo_requests=None if args.quiet else sys.stderr,
    )
    try:
        fake.start()  # the key file's token_uri needs the URL
    except OSError as exc:
        print(f"finfocus-sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    if args.credentials_out:
        path = Path(args.credentials_out)
        path.write_text(json.dumps(fake.credentials_info(), indent=2))
        path.chmod(0o600)
    tables = ", ".join(fake.table_id(kind) for kind in ("standard", "resource", "focus"))
    banner = f"fake BigQuery billing export of {dataset.billing_account_id}: {tables}"
    return serve(fake, args, banner)


def serve(fake: Any, args: argparse.Namespace, banner: str) -> int:
    """Add --faults, start `fake`, print its URL, serve until SIGTERM or SIGINT."""
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
    print(f"finfocus-sandbox: {banner}; Ctrl-C to stop", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    fake.stop()
    return 0


def _serve_azure(args: argparse.Namespace) -> int:
    dataset = AzureDataset.generate(
        seed=args.seed,
        days=args.days,
        agreement=args.agreement,
        subscriptions=args.subscriptions,
        resources_per_subscription=args.resources_per_subscription,
        now=args.now,
    )
    fake = FakeAzure(
        dataset,
        client_id=args.client_id,
        client_secret=args.client_secret,
        poll_retry_after=args.poll_retry_after,
        polls_before_ready=args.polls_before_ready,
        host=args.host,
        port=args.port,
        echo_requests=None if args.quiet else sys.stderr,
    )
    banner = (
        f"fake Azure ({args.agreement}) tenant {dataset.tenant_id}, scope "
        f"{dataset.billing_account_scope} ({args.days} days, {args.subscriptions} subscriptions)"
    )
    return serve(fake, args, banner)


if __name__ == "__main__":
    sys.exit(main())
