#!/bin/sh
# The README's app screenshot: the real app on the registered champion, in headless Chromium.
#   sh projects/forecasting/scripts/screenshot.sh [out.png]      (after `make forecasting`)
# Needs Debian's chromium (apt-get install -y chromium). Starts Streamlit on a free port
# and stops it again; the page is rendered for 40 s of virtual time (the champion loads,
# the backtest is read from MLflow, both charts are drawn).
set -eu
out=${1:-projects/forecasting/reports/app.png}
port=${PORT:-8597}
uv=${UV:-uv}
$uv run --frozen --no-sync streamlit run projects/forecasting/src/forecasting/app.py \
    --server.address 127.0.0.1 --server.port "$port" --server.headless true \
    --browser.gatherUsageStats false >/tmp/forecasting-app.log 2>&1 &
app=$!
trap 'kill $app 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 90); do
    if curl -sf "http://127.0.0.1:$port/_stcore/health" >/dev/null; then break; fi
    sleep 1
done
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1400,2300 --virtual-time-budget=40000 \
    --screenshot="$out" "http://127.0.0.1:$port/"
echo "screenshot → $out"
