"""The web server: an app factory, thin routes, static files."""
