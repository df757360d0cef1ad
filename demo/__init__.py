"""The demo storefronts: a composition root above every domain app, used by `make demo`."""
