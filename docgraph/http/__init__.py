"""The HTTP pipeline in front of both faces: CORS settings (Starlette's middleware),
request ids, admission, authentication, rate limits, body limits, idempotency, error bodies;
and the routes that are neither face (health checks, the local backend's signed transfers)."""
