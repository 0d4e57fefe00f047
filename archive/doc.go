// Package archive is tlseal's evidence archive: sealed files stored durably
// under their archive names, an append-only Merkle log of their seals
// (RFC 6962 hashing, golang.org/x/mod/sumdb/tlog), signed C2SP checkpoints,
// inclusion and consistency proofs, and crash recovery.
//
// A Writer (Create, OpenWriter) holds the archive's lock, seals each file
// with its link in the chain of evidence (timeline.Chain: id, seq, hash of
// the previous envelope) and appends its envelope as the next leaf. Readers
// (OpenReader) take no lock and open in O(log n). Check is the archive's own
// consistency check. The on-disk format, the durability protocol and the
// recovery rules are in docs/archive.md.
package archive
