"""The web app's server: static files (built from ``web/``, committed under ``static/``) and the
``config.json`` the page reads (the node URL and the deployment record). No state on the server:
the page reads the chain itself and signs through the user's wallet."""
