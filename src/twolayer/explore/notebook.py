"""The explorer in a Jupyter notebook: the same page, served from a background thread, in a frame.

    from twolayer.explore import Explorer
    ex = Explorer()      # the page appears under the cell
    ex.stop()            # or restart the kernel

The notebook's browser must run on the machine that runs the kernel (the server listens on
127.0.0.1). Only pages from this machine may frame the page, and they still need its token.
"""

from __future__ import annotations

import html

from .server import Server


class Explorer:
    """A running explorer shown in an IFrame by the notebook (``_repr_html_``)."""

    def __init__(self, width: str = "100%", height: int = 1000, port: int = 0) -> None:
        self.width, self.height = width, height
        self.server = Server(port=port, linger=None, framed=True).start()

    @property
    def url(self) -> str:
        return self.server.url

    def _repr_html_(self) -> str:
        if not self.server.running:
            return "<p>twolayer explore: stopped</p>"
        return (
            f'<iframe src="{html.escape(self.url)}" width="{html.escape(str(self.width))}" '
            f'height="{int(self.height)}" style="border: 1px solid #ddd"></iframe>'
        )

    def stop(self) -> None:
        """Stop the server: its socket closed, its thread ended."""
        self.server.stop()

    def __repr__(self) -> str:
        state = "running at " + self.url if self.server.running else "stopped"
        return f"Explorer({state})"
