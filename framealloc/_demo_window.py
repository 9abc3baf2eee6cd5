"""The demo's live window (``python -m framealloc.demo --window``): particles drawn with pygame.

pygame is an optional extra (``pip install "framealloc[window]"``); this module imports it only
when a window is opened. Particles are drawn as 2 x 2 pixel squares through a pixel array (one
NumPy assignment per frame, not one draw call per particle), coloured by neighbour count.
"""
from __future__ import annotations

import os

import numpy as np

BACKGROUND = (12, 14, 28)
TEXT = (230, 230, 230)
#: particle colour by neighbour count: 0, 1, 2, ... (the last one for every higher count)
PALETTE = [(70, 110, 255), (60, 170, 255), (60, 220, 200), (120, 240, 120), (230, 230, 90),
           (255, 170, 60), (255, 90, 60)]


class WindowUnavailable(RuntimeError):
    """pygame is missing or no display can be opened; the message says what to do."""


class ParticleWindow:
    """A square window showing particles of the unit box (y up), with lines of text on top.

    ``draw(pos, nbcount, lines)`` once per frame (it returns False once the user closed the
    window), then ``close()``. Raises :class:`WindowUnavailable` when pygame or a display is
    missing.
    """

    def __init__(self, size: int = 640, fps: int = 60, title: str = "framealloc demo"):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame
        except ImportError as e:
            raise WindowUnavailable(
                "--window needs pygame: pip install \"framealloc[window]\" "
                "(or run scripts/demo.sh --window, which installs it)") from e
        self._pg = pygame
        try:
            pygame.display.init()
            pygame.font.init()
            self.screen = pygame.display.set_mode((size, size))
        except pygame.error as e:
            raise WindowUnavailable(
                f"no window could be opened ({e}): run on a desktop session, or under a virtual "
                f"display (xvfb-run python -m framealloc.demo --window)") from e
        pygame.display.set_caption(title)
        self.size = size
        self.fps = fps
        self.driver = pygame.display.get_driver()
        self._clock = pygame.time.Clock()
        self._font = pygame.font.Font(None, 20)
        self._colours = np.array([self.screen.map_rgb(c) for c in PALETTE], dtype=np.int64)

    def draw(self, pos: np.ndarray, nbcount: np.ndarray, lines: list[str]) -> bool:
        """Draw one frame; False once the user closed the window (close button, Esc or q)."""
        pg = self._pg
        for event in pg.event.get():
            if event.type == pg.QUIT or (event.type == pg.KEYDOWN
                                         and event.key in (pg.K_ESCAPE, pg.K_q)):
                return False
        self.screen.fill(BACKGROUND)
        last = self.size - 2
        x = np.clip((pos[:, 0] * last).astype(np.int64), 0, last - 1)
        y = np.clip(((1.0 - pos[:, 1]) * last).astype(np.int64), 0, last - 1)
        colour = self._colours[np.minimum(nbcount, len(PALETTE) - 1)]
        px = pg.surfarray.pixels2d(self.screen)
        for dx in (0, 1):
            for dy in (0, 1):
                px[x + dx, y + dy] = colour
        del px                                      # unlock the surface before blitting text
        for k, line in enumerate(lines):
            self.screen.blit(self._font.render(line, True, TEXT, BACKGROUND), (8, 6 + 18 * k))
        pg.display.flip()
        self._clock.tick(self.fps)
        return True

    def close(self) -> None:
        self._pg.display.quit()
