"""One module per ``claimwatch`` sub-command group; each exposes ``register(app)``."""
