"""Coverage-guided fuzzing (atheris / libFuzzer) of everything that decodes bytes from outside.

One harness per target, each runnable as ``python -m fuzz.<target> [libFuzzer flags]``
(e.g. ``-atheris_runs=100000``); ``python -m fuzz --runs N`` runs them all and
prints executions, coverage and crashes per target.  Needs the ``fuzz`` extra
(``pip install -e '.[fuzz]'``).

Targets and the property each checks (a violated property, or any exception
the property does not allow, is a crash and libFuzzer writes the input to a
``crash-*`` file):

* ``codec``     ``ledger.codec.decode`` and the receipts decoder: a value or
                ``DecodeError``; a decoded value re-encodes to the same bytes.
* ``tx``        ``Tx.decode``: a Tx or ``DecodeError``; re-encoding its fields
                gives the same bytes, its hash is their sha256, its cut-out
                sign-bytes equal the re-encoded ones, signature checks only
                answer.
* ``block``     ``Block.decode`` / ``Block.decode_header``: a block or
                ``DecodeError``; ``Block.make(header, txs)`` gives the same
                bytes; ``check_child`` raises only ``InvalidProposal``.
* ``commit``    ``CommitCertificate.decode`` / ``Vote.decode``: same contract,
                canonical; ``verify_commit`` raises only ``CertificateError``.
* ``consensus`` ``consensus.messages.decode_message``: a message or
                ``DecodeError``; ``encode_message`` gives the same bytes;
                ``verify`` only answers.
* ``mesh``      the direct-mesh frame reader (``node.p2p.mesh``): frames
                delivered are exactly what was sent, a bad length or topic
                is ``MeshFrameError`` and nothing else escapes.
* ``p2p``       what a node does with bytes from a peer, on a real node
                (LevelDB home in a temp dir): the ``status`` and ``txs``
                topics, a block-sync request it serves and a block-sync
                response it fetched; nothing escapes but ``SyncError``.
* ``rpc``       the JSON-RPC endpoint (``RPCServer.handle_rpc``, no socket),
                the WebSocket request parser, and any type-checked tx body
                signed by a funded key and sent with ``broadcast_tx``, on a
                real node: every body gets a JSON-RPC response (or 204),
                never an HTTP 500 and never ``-32603 internal error``.

Seed corpora are generated at start from real signed objects
(:mod:`fuzz.seeds`); nothing binary is committed.
"""
