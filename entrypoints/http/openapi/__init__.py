"""The OpenAPI document the app serves at /openapi.json."""
