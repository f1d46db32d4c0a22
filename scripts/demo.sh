#!/usr/bin/env bash
# `make demo`: check and build the example issue, send it to the embedded SMTP sink, show the outbox.
# The demo keeps its own state under out/demo/ so every run shows a complete send.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
ISSUE=${ISSUE:-issues/2022-03-laenderfokus}

export NEWSLETTER_SUBSCRIBERS=subscribers.example.csv
export NEWSLETTER_DATABASE=sqlite:///out/demo/state.db
export NEWSLETTER_OUTBOX=out/demo/outbox
export NEWSLETTER_SMTP_HOST=127.0.0.1 NEWSLETTER_SMTP_PORT=1025 NEWSLETTER_SMTP_SECURITY=none

rm -rf out/demo && mkdir -p out/demo
step() { printf '\n── %s\n' "$*"; }

step "pre-flight check of $ISSUE"
$BIN/newsletter check "$ISSUE"
step "building every edition into out/"
$BIN/newsletter build "$ISSUE" --out out/
step "checking the member list"
$BIN/newsletter subscribers check subscribers.example.csv

step "starting the embedded SMTP sink on 127.0.0.1:1025 (log: out/demo/dev-smtp.log)"
$BIN/newsletter dev-smtp >out/demo/dev-smtp.log 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/1025) 2>/dev/null && break
  kill -0 $sink 2>/dev/null || { cat out/demo/dev-smtp.log; exit 1; }
  sleep 0.2
done

step "sending the issue to every member of subscribers.example.csv"
$BIN/newsletter send "$ISSUE" --to all --yes
$BIN/newsletter status "$ISSUE"
kill $sink; wait $sink 2>/dev/null || true
trap - EXIT

step "preview with the outbox: http://127.0.0.1:8000/issues/$(basename "$ISSUE")/outbox  (Ctrl-C to stop)"
exec $BIN/newsletter preview "$ISSUE" --dev-smtp --open outbox
