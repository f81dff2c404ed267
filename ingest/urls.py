"""Article identity on the web: a URL without tracking parameters, fragment, default port or case noise in the host."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

TRACKING = ("utm_", "mc_", "pk_", "hsa_")  # parameter prefixes that only say where a click came from
TRACKING_NAMES = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "ocid", "cmpid", "ito", "smid",
                  "_ga", "ref_src", "spm"}


def canonical_url(url: str, base: str = "") -> str:
    """`url` (resolved against `base`) with tracking parameters and the fragment removed, scheme and host
    lowercased and a default port dropped; "" when it is not an http(s) URL."""
    try:
        parts = urlsplit(urljoin(base, url.strip()) if base else url.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k)]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def _tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith(TRACKING) or name in TRACKING_NAMES
