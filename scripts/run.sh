#!/usr/bin/env bash
# Set everything up, then start the chat app on the embedded offline defaults, bound to localhost.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PORT=${PORT:-8501}
echo "Open http://localhost:${PORT} in a browser (Ctrl+C stops the app)."
exec .venv/bin/python -m streamlit run streamlit_app.py \
  --server.address 127.0.0.1 --server.port "$PORT" --server.headless true --browser.gatherUsageStats false
