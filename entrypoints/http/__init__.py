"""The HTTP edge: the Falcon app, its middleware, resources and schemas."""
