"""Hostile inputs shared by the reliability tests: markup, traversal, odd text, odd numbers."""

from __future__ import annotations

MARKUP = (
    "<script>window.__pwned=1</script>",
    "<img src=x onerror=window.__pwned=1>",
    "<svg onload=window.__pwned=1>",
    "\"><iframe srcdoc='<script>parent.__pwned=1</script>'>",
    "javascript:window.__pwned=1",
    "{{constructor.constructor('window.__pwned=1')()}}",
)
"""would run a script if any of it reached innerHTML, an attribute or a template."""

TRAVERSAL = (
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/plugin.py",
    "..\\..\\plugin.py",
    "/etc/passwd",
    "index.js/../../loader.py",
    "....//....//etc/passwd",
    "%252e%252e%252fplugin.py",
    "index.js%00.png",
)

ODD_TEXT = (
    "",
    " ",
    ".",
    "/",
    "//",
    "\x00",
    "\x00\x01\x02\x7f",
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "\u202e\u0644\u0627 RTL override",
    "名前/ラン",
    "%",
    "%zz",
    "%00",
    "a" * 100_000,
    "🙂" * 10_000,
    "run&run=other",
    "run\r\nSet-Cookie: pwned=1",
    "' OR 1=1 --",
    "${jndi:ldap://127.0.0.1/x}",
)

ODD_NUMBERS = (
    float("nan"),
    float("inf"),
    float("-inf"),
    0.0,
    -0.0,
    -1.0,
    1e308,
    -1e308,
    5e-324,
    3.4e38,
)
