"""Reading a request header from the scope, and setting response headers."""

from docgraph.http.headers import header, set_headers


def test_a_header_is_read_by_its_lower_case_name_first_one_wins():
    scope = {"headers": [(b"x-request-id", b"first"), (b"authorization", b"Bearer k"),
                         (b"x-request-id", b"second")]}
    assert header(scope, b"x-request-id") == "first"
    assert header(scope, b"authorization") == "Bearer k"
    assert header(scope, b"content-length") is None
    assert header({"headers": [(b"x-name", "é".encode("latin-1"))]}, b"x-name") == "é"


def test_set_headers_replaces_what_the_response_carried_whatever_its_case():
    message = {"type": "http.response.start", "status": 200,
               "headers": [(b"content-type", b"application/json"),
                           (b"X-Request-ID", b"from-inside"), (b"x-ratelimit-limit", b"1"),
                           (b"x-ratelimit-limit", b"2")]}
    set_headers(message, {"X-Request-ID": "req_1", "X-RateLimit-Limit": "100"})
    assert sorted(message["headers"]) == sorted([
        (b"content-type", b"application/json"), (b"x-request-id", b"req_1"),
        (b"x-ratelimit-limit", b"100")])
    bare = {"type": "http.response.start", "status": 204}
    set_headers(bare, {"X-Request-ID": "req_2"})
    assert bare["headers"] == [(b"x-request-id", b"req_2")]
