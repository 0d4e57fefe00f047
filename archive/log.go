package archive

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/timeline"
)

// Entry is one entry of the log: a sealed file and its place in the chain.
type Entry struct {
	Index       int64  // leaf index, 0-based
	Seq         int64  // chain.seq of the seal: Index+1
	ArchiveName string // the sealed file's path under files/, '/'-separated
	// Name is the source name recorded in the seal ("" when the envelope
	// does not parse).
	Name string
	// PrevVersion is the seq of the previous entry with the same source
	// name, 0 when this is the first.
	PrevVersion int64
	SealedSize  int64 // length of the sealed file
	// EnvelopeBytes is the seal's envelope: the Merkle leaf.
	EnvelopeBytes []byte
	// Envelope is the parsed envelope; nil (and EnvelopeErr set) when the
	// logged bytes are not a valid v1 envelope.
	Envelope    *timeline.Envelope
	EnvelopeErr error
	LeafHash    tlog.Hash // tlog.RecordHash(EnvelopeBytes)
	// Notes are what the sealer recorded with the entry (IngestWithNotes),
	// nil for none. They are covered by the record's CRC, not by the
	// checkpoint.
	Notes []Note
	// ExistedBy is the earliest checkpoint timestamp that covers the
	// entry (set by Check; nil for none): the entry existed by its time.
	ExistedBy *Stamp
	// Offset and Length locate the record in log/entries.
	Offset int64
	Length int
}

// EnvelopeSHA256 is the hex SHA-256 of the envelope bytes: what the next
// seal's chain.prev holds.
func (e *Entry) EnvelopeSHA256() string {
	h := sha256.Sum256(e.EnvelopeBytes)
	return timeline.Hex(h[:])
}

func newEntry(r *record, off int64, length int) *Entry {
	e := &Entry{
		Index: r.Seq - 1, Seq: r.Seq, ArchiveName: r.ArchiveName, PrevVersion: r.PrevVersion,
		SealedSize: r.SealedSize, EnvelopeBytes: r.Envelope, LeafHash: tlog.RecordHash(r.Envelope),
		Notes: r.Notes, Offset: off, Length: length,
	}
	e.Envelope, e.EnvelopeErr = timeline.ParseEnvelope(r.Envelope)
	if e.Envelope != nil {
		e.Name = e.Envelope.Name
	}
	return e
}

// logFiles are the open files of log/.
type logFiles struct {
	dir                    string
	entries, hashes, index logFile
}

func openLog(dir string, write bool) (*logFiles, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	if isRemote(dir) {
		return openS3Log(dir, write)
	}
	l := &logFiles{dir: dir}
	for _, f := range []struct {
		name string
		dst  *logFile
	}{{entriesFile, &l.entries}, {hashesFile, &l.hashes}, {indexFile, &l.index}} {
		fh, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(f.name)), flag, 0)
		if err != nil {
			l.close()
			if errors.Is(err, os.ErrNotExist) {
				return nil, errorf(ReasonCorrupt, dir, err, "%s is missing", f.name)
			}
			return nil, errorf(ReasonIO, dir, err, "opening %s", f.name)
		}
		*f.dst = fh
	}
	return l, nil
}

func (l *logFiles) close() {
	for _, f := range []logFile{l.entries, l.hashes, l.index} {
		if f != nil {
			f.Close()
		}
	}
}

func fileSize(f logFile) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// ReadHashes implements tlog.HashReader over log/hashes.
func (l *logFiles) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if _, err := l.hashes.ReadAt(out[i][:], idx*hashLen); err != nil {
			return nil, errorf(ReasonCorrupt, hashesFile, err, "reading stored hash %d", idx)
		}
	}
	return out, nil
}

// readIndex reads index record i.
func (l *logFiles) readIndex(i int64) (*indexRecord, error) {
	var b [indexRecordLen]byte
	n, err := l.index.ReadAt(b[:], i*indexRecordLen)
	if err != nil && !(err == io.EOF && n == len(b)) {
		if err == io.EOF {
			return nil, &RecordError{Offset: i * indexRecordLen, Msg: "index record cut short", Torn: true}
		}
		return nil, errorf(ReasonIO, indexFile, err, "")
	}
	return parseIndexRecord(b[:], i)
}

// speculativeRecordRead is how much readRecord reads when it does not know
// a record's length.
const speculativeRecordRead = 4 << 10

// readRecord reads the entries record at off (length n, or found from its
// prefix when n is 0).
func (l *logFiles) readRecord(off int64, n int) (*record, int, error) {
	if n == 0 {
		// One read usually brings the length prefix and the whole record
		// (a few KiB): a check confirms thousands of names this way.
		b := make([]byte, speculativeRecordRead)
		got, err := l.entries.ReadAt(b, off)
		if got < 4 {
			if err == io.EOF || err == nil {
				return nil, 0, &RecordError{Offset: off, Msg: "the length prefix is cut short", Torn: true}
			}
			return nil, 0, errorf(ReasonIO, entriesFile, err, "")
		}
		if n, err = recordLen(b[:4], off); err != nil {
			return nil, 0, err
		}
		if n <= got {
			return parseRecord(b[:n], off)
		}
	}
	b := make([]byte, n)
	got, err := l.entries.ReadAt(b, off)
	if err != nil && !(err == io.EOF && got == n) {
		if err == io.EOF {
			return nil, 0, &RecordError{Offset: off, Msg: fmt.Sprintf("%d of %d bytes present", got, n), Torn: true}
		}
		return nil, 0, errorf(ReasonIO, entriesFile, err, "")
	}
	return parseRecord(b, off)
}

// entry reads entry i through the index and checks that the index, the
// record and the stored leaf hash agree.
func (l *logFiles) entry(i int64) (*Entry, error) {
	x, err := l.readIndex(i)
	if err != nil {
		return nil, corrupt(err, "index record %d", i)
	}
	r, n, err := l.readRecord(x.Offset, x.Length)
	if err != nil {
		return nil, corrupt(err, "entry %d", i+1)
	}
	if n != x.Length || r.Seq != i+1 {
		return nil, errorf(ReasonCorrupt, entriesFile, nil, "index record %d points to the record of seq %d", i, r.Seq)
	}
	e := newEntry(r, x.Offset, n)
	hs, err := l.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
	if err != nil {
		return nil, err
	}
	if hs[0] != e.LeafHash {
		return nil, errorf(ReasonCorrupt, hashesFile, nil, "the stored leaf hash of entry %d is not the hash of its envelope", i+1)
	}
	return e, nil
}

func corrupt(err error, format string, args ...any) error {
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	return errorf(ReasonCorrupt, "", err, format, args...)
}

// recordScanner reads entries records sequentially from an offset.
type recordScanner struct {
	r    *bufio.Reader
	off  int64
	size int64
	buf  []byte
}

func newRecordScanner(f logFile, off, size int64) *recordScanner {
	return &recordScanner{r: bufio.NewReaderSize(io.NewSectionReader(f, off, size-off), 1<<20), off: off, size: size}
}

// next returns the next record and its offset and length, io.EOF at a clean
// end, or a *RecordError.
func (s *recordScanner) next() (*record, int64, int, error) {
	if s.off == s.size {
		return nil, 0, 0, io.EOF
	}
	hdr, err := s.r.Peek(4)
	if err != nil {
		return nil, 0, 0, &RecordError{Offset: s.off, Msg: "the length prefix is cut short", Torn: true}
	}
	n, err := recordLen(hdr, s.off)
	if err != nil {
		return nil, 0, 0, err
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	got, err := io.ReadFull(s.r, b)
	if err != nil {
		return nil, 0, 0, &RecordError{Offset: s.off, Msg: fmt.Sprintf("%d of %d bytes present", got, n), Torn: true}
	}
	r, _, err := parseRecord(b, s.off)
	if err != nil {
		return nil, 0, 0, err
	}
	off := s.off
	s.off += int64(n)
	return r, off, n, nil
}

// tornTail reports whether the invalid record at off may be repaired by
// truncating the file there: it is cut short, or it is the last record,
// or nothing but zero bytes follow (what a power failure can leave).
func tornTail(f logFile, off, size int64, rerr error) bool {
	var re *RecordError
	if !errors.As(rerr, &re) {
		return false
	}
	if re.Torn {
		return true
	}
	if re.Unknown {
		return false // intact: written by a later tlseal
	}
	var hdr [4]byte
	if _, err := f.ReadAt(hdr[:], off); err == nil {
		if n, err := recordLen(hdr[:], off); err == nil && off+int64(n) == size {
			return true
		}
	}
	// All zeros from off to the end?
	buf := make([]byte, 64<<10)
	for p := off; p < size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-p)], p)
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		p += int64(n)
		if err != nil && p < size {
			return false
		}
	}
	return true
}

// treeSize returns how many entries the index and hashes files describe:
// the valid index records from trusted on (those before are known good:
// durable since the last checkpoint), contiguous in log/entries, whose
// stored hashes are all present. It never writes.
func (l *logFiles) treeSize(trusted int64) (int64, error) {
	isz, err := fileSize(l.index)
	if err != nil {
		return 0, errorf(ReasonIO, indexFile, err, "")
	}
	hsz, err := fileSize(l.hashes)
	if err != nil {
		return 0, errorf(ReasonIO, hashesFile, err, "")
	}
	esz, err := fileSize(l.entries)
	if err != nil {
		return 0, errorf(ReasonIO, entriesFile, err, "")
	}
	max := isz / indexRecordLen
	if trusted > max {
		trusted = max
	}
	n := trusted
	var next int64
	if n > 0 {
		x, err := l.readIndex(n - 1)
		if err != nil {
			return 0, corrupt(err, "index record %d", n-1)
		}
		next = x.Offset + int64(x.Length)
	}
	for n < max {
		x, err := l.readIndex(n)
		if err != nil || x.Offset != next || x.Offset+int64(x.Length) > esz {
			break
		}
		next = x.Offset + int64(x.Length)
		n++
	}
	for n > 0 && tlog.StoredHashCount(n)*hashLen > hsz {
		n--
	}
	return n, nil
}
