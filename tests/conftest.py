"""pytest configuration shared by every test of the workbook."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = ["harness.plugin"]
