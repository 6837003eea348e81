"""Screenshots of a whole notebook: single-document mode, no sidebar, a viewport as tall as the
notebook (capped), so tables and charts below the fold are in the picture too."""

from __future__ import annotations

from pathlib import Path

_FOCUS = """() => {
  const app = window.jupyterapp;
  app.shell.mode = 'single-document';
  app.shell.collapseLeft();
  app.shell.collapseRight();
  const w = app.shell.currentWidget;
  const scroller = w.node.querySelector('.jp-WindowedPanel-outer') || w.content.node;
  scroller.scrollTop = 0;
  const top = scroller.getBoundingClientRect().top;
  return Math.ceil(top + scroller.scrollHeight + 40);
}"""


def screenshot_notebook(page, path: Path, max_height: int = 9000) -> Path:
    """Save a PNG of the current notebook from its first cell to its last output."""
    size = page.viewport_size or {"width": 1400, "height": 1000}
    height = page.evaluate(_FOCUS)
    page.set_viewport_size(
        {"width": size["width"], "height": max(size["height"], min(height, max_height))}
    )
    page.wait_for_timeout(800)  # layout, then images decode
    page.evaluate(_FOCUS)
    page.wait_for_timeout(400)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def screenshot_element(locator, path: Path, margin: int = 120, max_height: int = 6000) -> Path:
    """Save a PNG of one element, growing the viewport so the whole element is painted."""
    page = locator.page
    size = page.viewport_size or {"width": 1400, "height": 1000}
    box = locator.bounding_box() or {"height": 0}
    want = min(int(box["height"]) + 2 * margin + 200, max_height)
    if want > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": want})
        page.wait_for_timeout(500)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def screenshot_section(
    page, heading: str, path: Path, width: int = 1280, height: int = 1500
) -> Path:
    """A viewport-sized PNG starting at the markdown heading `heading` (for the README)."""
    size = page.viewport_size or {"width": 1400, "height": 1000}
    page.set_viewport_size({"width": width, "height": height})
    page.evaluate(
        """(text) => {
          const app = window.jupyterapp;
          app.shell.mode = 'single-document';
          app.shell.collapseLeft();
          const w = app.shell.currentWidget;
          const h = [...w.node.querySelectorAll('h1,h2,h3')].find(e => e.textContent.includes(text));
          const scroller = w.node.querySelector('.jp-WindowedPanel-outer');
          if (h && scroller) scroller.scrollTop += h.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 8;
        }""",
        heading,
    )
    page.wait_for_timeout(600)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def compact_png(source: Path, target: Path, width: int = 1024, colours: int = 256) -> Path:
    """A small copy for docs/ (README): scaled to `width`, 256 colours, optimised (~100 KB)."""
    from PIL import Image

    with Image.open(source) as im:
        rgb = im.convert("RGB")
        small = rgb.resize((width, round(rgb.height * width / rgb.width)), Image.LANCZOS)
    small.quantize(colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        target, optimize=True
    )
    return target
