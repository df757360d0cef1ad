"""The REST API's shared pieces: API-key authentication, errors, pagination, throttling."""
