"""``make demo``: the whole daemon on one machine against the bundled sandbox."""
