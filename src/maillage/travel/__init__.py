"""Travel times between places, kept sparse: only pairs under the cut-off exist."""
