"""Screenshots of the main pages for review: each at 1280 px and 375 px wide.

Written to test-output/screenshots/ (or $COMMS_SCREENSHOT_DIR), which CI keeps as an artifact
and git ignores. A screenshot is a by-product for people to look at; the tests assert elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

WIDTHS = {"desktop": 1280, "phone": 375}
_ROOT = Path(__file__).resolve().parents[2]


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("COMMS_SCREENSHOT_DIR") or _ROOT / "test-output" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page: Page, name: str) -> list[Path]:
    """Full-page screenshots of the page as it is, at each width; the files written."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    original = page.viewport_size or {"width": 1280, "height": 800}
    written = []
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 800})
        path = screenshot_dir() / f"{slug}-{label}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    page.set_viewport_size(original)
    return written
