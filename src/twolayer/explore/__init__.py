"""twolayer explore: watch the net learn and the gradients flow through its circuit, in the browser.

Needs the ``explore`` extra (``pip install "twolayer[explore]"``, which brings Tornado). Everything the
page shows is computed here, by ``TwoLayerNet.loss`` and the library's gates and update rules.
"""

import asyncio
import webbrowser

from .notebook import Explorer
from .server import Server
from .session import Session, Settings

__all__ = ["Explorer", "Server", "Session", "Settings", "serve"]


def serve(host="127.0.0.1", port=0, open_browser=True, linger=3.0, announce=None, log=None):
    """Run the explorer until Ctrl-C or until its last tab has been closed for ``linger`` seconds.

    ``announce`` gets the Server once it listens (its ``url`` is the address to open).
    Returns why it stopped.
    """
    server = Server(host, port, linger=linger, log=log)

    async def main():
        task = asyncio.ensure_future(server.serve())
        while not server._ready.is_set() and not task.done():
            await asyncio.sleep(0.01)
        if not task.done():
            (announce or (lambda s: print(s.url)))(server)
            if open_browser:
                webbrowser.open(server.url)
        await task

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        return "stopped (Ctrl-C)"
    return server.stopped_because or "stopped"
