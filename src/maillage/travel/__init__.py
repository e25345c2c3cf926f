"""Travel times between places, kept sparse: only pairs under the cut-off exist.

``model`` holds the two shared types (``Places``, ``TravelPairs``); ``provider`` parses the
``--travel`` option into one of ``crowfly.CrowFly``, ``matrix.MatrixFile`` or ``osrm.OsrmTable``.
Import from those modules: this package stays light so that the CLI starts fast.
"""
