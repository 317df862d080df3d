#!/usr/bin/env bash
# Quick start: install everything, then run the main job — Stripe -> FOCUS dataset —
# and print what landed. Without TAP_STRIPE_API_KEY it runs against the bundled Stripe
# sandbox (a local fake API with a generated platform and two connected accounts).
source "$(dirname "$0")/bootstrap.sh"
DEMO="$ROOT/output/demo"
rm -rf "$DEMO" && mkdir -p "$DEMO"
export MELTANO_DATABASE_URI="sqlite:///$DEMO/meltano.db"   # the demo keeps its own state
export TARGET_FOCUS_OUTPUT_PATH="$DEMO/focus"

if [ -z "${TAP_STRIPE_API_KEY:-}" ]; then
  uv run finfocus-sandbox stripe --port 0 --seed 1 --days 90 --balance-transactions 1500 \
    --accounts acct_1DemoJapan0000001,acct_1DemoEurope000001 --quiet \
    > "$DEMO/sandbox.url" 2> "$DEMO/sandbox.log" &
  SANDBOX=$!
  trap 'kill $SANDBOX 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -s "$DEMO/sandbox.url" ] && break; sleep 0.1; done
  export TAP_STRIPE_API_URL="$(head -n1 "$DEMO/sandbox.url")"
  export TAP_STRIPE_API_KEY=sk_test_finfocus
  export TAP_STRIPE_ACCOUNT_IDS='["acct_1DemoJapan0000001","acct_1DemoEurope000001"]'
  export TAP_STRIPE_START_DATE="$(date -u -d '-120 days' +%Y-%m-%dT00:00:00Z)"
  echo "finfocus: Stripe sandbox at $TAP_STRIPE_API_URL (set TAP_STRIPE_API_KEY to use your account)"
fi

echo "finfocus: meltano run tap-stripe focus target-focus"
uv run meltano run tap-stripe focus target-focus 2> "$DEMO/meltano.log" \
  || { tail -n 20 "$DEMO/meltano.log"; echo "finfocus: the run failed; full log in $DEMO/meltano.log"; exit 1; }
uv run python scripts/focus_summary.py "$TARGET_FOCUS_OUTPUT_PATH"
