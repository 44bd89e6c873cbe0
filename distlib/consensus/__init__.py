"""Consensus protocols (Raft in :mod:`distlib.consensus.raft`, a KV store on it in
:mod:`distlib.consensus.raft_kv`). Import the submodules directly; this package imports nothing."""
