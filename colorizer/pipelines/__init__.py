"""Recipes that turn inputs into colour: `photo` (the colorize recipe, written once), `film` (the
photo recipe over frames, without flicker), and the steps they call (hints, restoration, the memory
estimate that admits a request)."""
