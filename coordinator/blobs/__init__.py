"""The content-addressed blob store (DESIGN.md §4): files on disk under the data directory, rows in ``blob``.

store    -- BlobStore: streamed, hash-checked, size-limited, type-sniffed, atomic writes
auth     -- AgentSignature: checks a request signed with an agent's key against its certificate
"""
