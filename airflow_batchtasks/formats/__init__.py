"""File formats: CSV dialects, the vectorised Arrow-to-CSV writer, transcoding and gpg encryption.

Pure data transforms on streams; no connection, no operator.
"""
