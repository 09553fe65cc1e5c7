"""s3-auth-proxy: an S3 reverse proxy that authenticates, authorizes and re-signs.

One request goes through the modules in this order::

    server      aiohttp listeners, health, metrics endpoint
    handler     the request flow; the one place where the stages meet
      sigv4       parse and verify the client's Signature V4 (pure)
      chunked     decode and verify aws-chunked bodies (pure)
      identity    access key id -> principal
      tokens      the session caller's JWT -> claims
      addressing  host and raw path -> bucket and key
      operations  method, bucket, key, query -> S3 action
      policy      IAM-style statements with ${jwt:...} variables (pure)
      body        the request body, streamed and checked as it passes
      upstream    header hygiene, re-signing with the store's key, streaming

``config`` loads the one typed configuration object; ``errors`` is the tree of
S3 errors every stage raises to refuse a request.
"""

__version__ = "0.1.0"
