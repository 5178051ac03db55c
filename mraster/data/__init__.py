"""Real market data shipped with mraster (origin and license in README.md here): a recorded venue
exchangeInfo and replay datasets. The paper exchange replays them; the backtester sweeps them."""
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
REPLAY_DIR = DATA_DIR / "replay"
