"""The HTTP side: the Flask app, authentication, request and response models, error handlers, and the
ports (registry_port, events_port) through which the routes reach the rest. The routes are in `routes`."""
