package archive

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unicode/utf8"
)

// The log's record formats (docs/archive.md, "Log format"). All integers
// are big-endian; every record ends with a CRC-32C so that a torn write is
// recognised without trusting the file length.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	// recordVersion is the first body byte of an entries record: 1, or 2
	// for a record with notes (never 2 without, so that an archive without
	// notes keeps the bytes it always had).
	recordVersion      = 1
	recordVersionNotes = 2
	// maxNameLen bounds an archive name (bytes); maxEnvelopeLen the
	// envelope (the seal format's own bound).
	maxNameLen     = 4096
	maxEnvelopeLen = 1 << 20
	// recordOverhead is the length prefix and the CRC.
	recordOverhead = 4 + 4
	// recordFixed is the fixed part of a body: version, seq, prevVersion,
	// sealedSize, name length, envelope length.
	recordFixed = 1 + 8 + 8 + 8 + 2 + 4
	// maxRecordLen bounds a whole entries record (notes included).
	maxRecordLen = recordOverhead + recordFixed + maxNameLen + maxEnvelopeLen + 4 + maxNotesLen

	// indexRecordLen is the size of a log/index record.
	indexRecordLen = 32
	// hashLen is the size of a stored hash in log/hashes.
	hashLen = 32
)

// record is one entries record: what the log says about one sealed file.
type record struct {
	Seq         int64  // chain.seq of the seal: leaf index + 1
	PrevVersion int64  // seq of the previous entry with the same source name, 0 if none
	SealedSize  int64  // length of the sealed file in files/
	ArchiveName string // path under files/, '/'-separated
	Envelope    []byte // the seal's envelope bytes: the Merkle leaf
	Notes       []Note // the sealer's notes (version 2), nil for none
}

// RecordError says why bytes are not a valid log record.
type RecordError struct {
	Offset int64 // where the record starts in its file
	Msg    string
	// Torn is true when the bytes end before the record does: what an
	// interrupted append leaves (recovery truncates it).
	Torn bool
	// Unknown is true for an intact record (its CRC verifies) of a version
	// this tlseal does not know: a later tlseal wrote it, so it is never
	// taken for a torn append.
	Unknown bool
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("log record at offset %d: %s", e.Offset, e.Msg)
}

// marshal encodes the record with its length prefix and CRC: version 1,
// or version 2 when it has notes (which must be valid: CheckNotes).
func (r *record) marshal() []byte {
	var notes []byte
	version := byte(recordVersion)
	if len(r.Notes) > 0 {
		notes, version = marshalNotes(r.Notes), recordVersionNotes
	}
	bodyLen := recordFixed + len(r.ArchiveName) + len(r.Envelope)
	if version == recordVersionNotes {
		bodyLen += 4 + len(notes)
	}
	b := make([]byte, 0, recordOverhead+bodyLen)
	b = binary.BigEndian.AppendUint32(b, uint32(bodyLen))
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.PrevVersion))
	b = binary.BigEndian.AppendUint64(b, uint64(r.SealedSize))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.ArchiveName)))
	b = append(b, r.ArchiveName...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Envelope)))
	b = append(b, r.Envelope...)
	if version == recordVersionNotes {
		b = binary.BigEndian.AppendUint32(b, uint32(len(notes)))
		b = append(b, notes...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// recordLen returns the total length of the record whose first 4 bytes are
// hdr, or an error when the length is impossible.
func recordLen(hdr []byte, off int64) (int, error) {
	if len(hdr) < 4 {
		return 0, &RecordError{Offset: off, Msg: "the length prefix is cut short", Torn: true}
	}
	n := binary.BigEndian.Uint32(hdr)
	if n < recordFixed || n > maxRecordLen-recordOverhead {
		return 0, &RecordError{Offset: off, Msg: fmt.Sprintf("impossible record length %d", n)}
	}
	return int(n) + recordOverhead, nil
}

// parseRecord decodes one record from the start of b (which may hold more
// bytes after it) and returns it with its total length. off is only for
// messages.
func parseRecord(b []byte, off int64) (*record, int, error) {
	total, err := recordLen(b, off)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < total {
		return nil, 0, &RecordError{Offset: off, Msg: fmt.Sprintf("%d of %d bytes present", len(b), total), Torn: true}
	}
	b = b[:total]
	if got, want := crc32.Checksum(b[:total-4], castagnoli), binary.BigEndian.Uint32(b[total-4:]); got != want {
		return nil, 0, &RecordError{Offset: off, Msg: fmt.Sprintf("checksum mismatch (CRC-32C %08x, stored %08x)", got, want)}
	}
	p := b[4 : total-4]
	version := p[0]
	if version != recordVersion && version != recordVersionNotes {
		return nil, 0, &RecordError{Offset: off, Msg: fmt.Sprintf("unknown record version %d", version), Unknown: true}
	}
	r := &record{
		Seq:         int64(binary.BigEndian.Uint64(p[1:])),
		PrevVersion: int64(binary.BigEndian.Uint64(p[9:])),
		SealedSize:  int64(binary.BigEndian.Uint64(p[17:])),
	}
	if r.Seq < 1 || r.PrevVersion < 0 || r.PrevVersion >= r.Seq || r.SealedSize < 0 {
		return nil, 0, &RecordError{Offset: off, Msg: fmt.Sprintf("impossible values (seq %d, prevVersion %d, sealedSize %d)", r.Seq, r.PrevVersion, r.SealedSize)}
	}
	nameLen := int(binary.BigEndian.Uint16(p[25:]))
	rest := p[27:]
	if nameLen > maxNameLen || len(rest) < nameLen+4 {
		return nil, 0, &RecordError{Offset: off, Msg: "the archive name overruns the record"}
	}
	r.ArchiveName = string(rest[:nameLen])
	rest = rest[nameLen:]
	envLen := int(binary.BigEndian.Uint32(rest))
	rest = rest[4:]
	var notes []byte
	if version == recordVersionNotes {
		// The envelope, then the notes: their length and bytes.
		if envLen <= 0 || envLen > len(rest)-4 || envLen > maxEnvelopeLen {
			return nil, 0, &RecordError{Offset: off, Msg: fmt.Sprintf("envelope length %d overruns the record (%d bytes left)", envLen, len(rest))}
		}
		notes = rest[envLen+4:]
		if q := int(binary.BigEndian.Uint32(rest[envLen:])); q != len(notes) {
			return nil, 0, &RecordError{Offset: off, Msg: fmt.Sprintf("notes length %d does not fill the record (%d bytes left)", q, len(notes))}
		}
		rest = rest[:envLen]
	}
	if envLen != len(rest) || envLen > maxEnvelopeLen || envLen == 0 {
		return nil, 0, &RecordError{Offset: off, Msg: fmt.Sprintf("envelope length %d does not fill the record (%d bytes left)", envLen, len(rest))}
	}
	if err := checkArchiveName(r.ArchiveName); err != nil {
		return nil, 0, &RecordError{Offset: off, Msg: "archive name: " + err.Error()}
	}
	if notes != nil {
		var err error
		if r.Notes, err = parseNotes(notes); err != nil {
			return nil, 0, &RecordError{Offset: off, Msg: "notes: " + err.Error()}
		}
	}
	r.Envelope = append([]byte(nil), rest...)
	return r, total, nil
}

// indexRecord is one log/index record: where entry i's record is, and
// short hashes of its names for lookups.
type indexRecord struct {
	Offset   int64  // of the entries record
	Length   int    // of the entries record, overhead included
	Seq      int64  // i+1
	NameHash uint32 // nameHash(archive name)
	SrcHash  uint32 // nameHash(envelope name)
}

func (x *indexRecord) marshal() []byte {
	b := make([]byte, 0, indexRecordLen)
	b = binary.BigEndian.AppendUint64(b, uint64(x.Offset))
	b = binary.BigEndian.AppendUint32(b, uint32(x.Length))
	b = binary.BigEndian.AppendUint64(b, uint64(x.Seq))
	b = binary.BigEndian.AppendUint32(b, x.NameHash)
	b = binary.BigEndian.AppendUint32(b, x.SrcHash)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func parseIndexRecord(b []byte, i int64) (*indexRecord, error) {
	off := i * indexRecordLen
	if len(b) < indexRecordLen {
		return nil, &RecordError{Offset: off, Msg: "index record cut short", Torn: true}
	}
	b = b[:indexRecordLen]
	if got, want := crc32.Checksum(b[:28], castagnoli), binary.BigEndian.Uint32(b[28:]); got != want {
		return nil, &RecordError{Offset: off, Msg: fmt.Sprintf("index record checksum mismatch (CRC-32C %08x, stored %08x)", got, want)}
	}
	x := &indexRecord{
		Offset:   int64(binary.BigEndian.Uint64(b)),
		Length:   int(binary.BigEndian.Uint32(b[8:])),
		Seq:      int64(binary.BigEndian.Uint64(b[12:])),
		NameHash: binary.BigEndian.Uint32(b[20:]),
		SrcHash:  binary.BigEndian.Uint32(b[24:]),
	}
	if x.Seq != i+1 || x.Offset < 0 || x.Length < recordOverhead+recordFixed || x.Length > maxRecordLen {
		return nil, &RecordError{Offset: off, Msg: fmt.Sprintf("index record %d is inconsistent (seq %d, offset %d, length %d)", i, x.Seq, x.Offset, x.Length)}
	}
	return x, nil
}

// nameHash is the short hash of a name kept in the index for lookups.
func nameHash(name string) uint32 {
	h := sha256.Sum256([]byte(name))
	return binary.BigEndian.Uint32(h[:4])
}

// pending is the intent record written before a sealed file is linked into
// files/: on recovery it names the one file that may lack a log entry, and
// carries the entry's notes so that completing the entry keeps them.
type pending struct {
	Seq         int64
	ArchiveName string
	Notes       []Note // "PND2" when set, else "PND1"
}

// maxPendingLen bounds a pending record.
const maxPendingLen = 4 + 8 + 2 + maxNameLen + 4 + maxNotesLen + 4

func (p *pending) marshal() []byte {
	var notes []byte
	if len(p.Notes) > 0 {
		notes = marshalNotes(p.Notes)
	}
	b := make([]byte, 0, 4+8+2+len(p.ArchiveName)+4+len(notes)+4)
	if notes == nil {
		b = append(b, 'P', 'N', 'D', '1')
	} else {
		b = append(b, 'P', 'N', 'D', '2')
	}
	b = binary.BigEndian.AppendUint64(b, uint64(p.Seq))
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.ArchiveName)))
	b = append(b, p.ArchiveName...)
	if notes != nil {
		b = binary.BigEndian.AppendUint32(b, uint32(len(notes)))
		b = append(b, notes...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// parsePending decodes the pending record at the start of b (the file is
// overwritten in place, so bytes of a longer earlier record may follow).
func parsePending(b []byte) (*pending, error) {
	if len(b) < 4+8+2+4 || string(b[:4]) != "PND1" && string(b[:4]) != "PND2" {
		return nil, fmt.Errorf("no pending record")
	}
	n := int(binary.BigEndian.Uint16(b[12:]))
	end := 14 + n // the end of what the CRC covers
	var notes []byte
	if b[3] == '2' {
		if len(b) < end+4 {
			return nil, fmt.Errorf("pending record cut short")
		}
		q := int(binary.BigEndian.Uint32(b[end:]))
		if q > maxNotesLen {
			return nil, fmt.Errorf("pending record has %d bytes of notes", q)
		}
		end += 4 + q
		if len(b) >= end {
			notes = b[end-q : end]
		}
	}
	if len(b) < end+4 {
		return nil, fmt.Errorf("pending record cut short")
	}
	if crc32.Checksum(b[:end], castagnoli) != binary.BigEndian.Uint32(b[end:]) {
		return nil, fmt.Errorf("pending record checksum mismatch")
	}
	p := &pending{Seq: int64(binary.BigEndian.Uint64(b[4:])), ArchiveName: string(b[14 : 14+n])}
	if p.Seq < 1 {
		return nil, fmt.Errorf("pending record has seq %d", p.Seq)
	}
	if err := checkArchiveName(p.ArchiveName); err != nil {
		return nil, fmt.Errorf("pending record: %w", err)
	}
	if b[3] == '2' {
		var err error
		if p.Notes, err = parseNotes(notes); err != nil {
			return nil, fmt.Errorf("pending record: notes: %w", err)
		}
	}
	return p, nil
}

// checkArchiveName accepts a relative, '/'-separated, clean path of valid
// UTF-8 with no "." or ".." elements, no empty elements, no backslashes or
// control characters.
func checkArchiveName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("name longer than %d bytes", maxNameLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("name %q is not valid UTF-8", name)
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) {
			c := name[i]
			if c < 0x20 || c == 0x7f || c == '\\' {
				return fmt.Errorf("name %q holds a control character or backslash", name)
			}
			if c != '/' {
				continue
			}
		}
		switch elem := name[start:i]; elem {
		case "":
			return fmt.Errorf("name %q has an empty path element (leading, trailing or double '/')", name)
		case ".", "..":
			return fmt.Errorf("name %q has a %q path element", name, elem)
		}
		start = i + 1
	}
	return nil
}
