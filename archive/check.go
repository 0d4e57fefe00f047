package archive

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/readonly"
	"github.com/tlseal/tlseal/timeline"
)

// Problem codes of the archive's own consistency check (docs/findings.md
// documents them with the rest). Problems about one sealed file also carry
// the codes of timeline.Open (seal.*, content.*, riff.*, json.*) and of the
// signature check (signature.invalid, signature.encoding, cert.malformed,
// cert.algMismatch).
const (
	CodeCheckpointMissing   = "log.checkpointMissing"       // no checkpoint file
	CodeCheckpointInvalid   = "log.checkpointInvalid"       // the checkpoint does not parse or verify with keys/
	CodeCheckpointUntrusted = "log.checkpointUntrusted"     // its signer does not chain to CheckOptions.Roots
	CodeKeyInvalid          = "log.keyInvalid"              // a keys/ file does not parse or is misnamed
	CodeRootMismatch        = "log.rootMismatch"            // the recomputed root differs from the checkpoint's
	CodeTruncated           = "log.truncated"               // the log holds fewer entries than the checkpoint covers
	CodeTornTail            = "log.tornTail"                // an unfinished append at the end (repaired by the next writer)
	CodeRecordInvalid       = "log.recordInvalid"           // a log record is damaged or inconsistent
	CodeIndexMismatch       = "log.indexMismatch"           // log/index or log/hashes disagree with log/entries
	CodeEntryMissingFile    = "log.entryMissingFile"        // an entry's sealed file is gone
	CodeEntryMismatch       = "log.entryMismatch"           // an entry's file is not the one logged (envelope, size, type)
	CodeUnlistedFile        = "log.unlistedFile"            // a file in files/ that no entry lists
	CodeQuarantined         = "log.quarantinedFile"         // recovery quarantined a file (information)
	CodeInconsistentWitness = "log.inconsistentWithWitness" // the log does not extend a checkpoint saved earlier
	CodeEntryNotCovered     = "log.entryNotCovered"         // an entry past the checkpoint (warning)
	CodeKeysNotPinned       = "log.keysNotPinned"           // an archive from before key pinning (information)
	CodeChainGap            = "chain.gap"                   // seq does not follow (record or seal)
	CodeChainDuplicate      = "chain.duplicate"             // the same seal or archive name twice
	CodeChainPrevMismatch   = "chain.prevMismatch"          // chain.prev is not the hash of the previous envelope
	CodeChainIDMismatch     = "chain.idMismatch"            // chain.id is not the archive's
	CodeChainMissing        = "chain.missing"               // a logged seal has no chain member
	codeSealMalformed       = timeline.CodeSealMalformed
)

// Problem is one inconsistency found by Check.
type Problem struct {
	Code   string
	Seq    int64  // the entry concerned (0: the archive as a whole)
	Name   string // the file concerned, relative to the archive ('/'-separated), if any
	Detail string
}

func (p Problem) String() string {
	s := p.Code
	if p.Seq > 0 {
		s += fmt.Sprintf(" [seq %d]", p.Seq)
	}
	if p.Name != "" {
		s += " " + p.Name
	}
	return s + ": " + p.Detail
}

// CheckOptions tune Check.
type CheckOptions struct {
	// SkipFiles checks the log and the presence of the files only, not
	// their content and signatures.
	SkipFiles bool
	// Roots, when set, must include an anchor of the checkpoint signer's
	// certificate chain. (The checkpoint carries no time: the chain is
	// checked within the certificate's validity period.)
	Roots *x509.CertPool
	// Witness is an earlier checkpoint (a signed note) an auditor saved;
	// the log must extend it.
	Witness []byte
	// Jobs is the number of files checked in parallel (0: one per CPU).
	Jobs int
	// JudgeSeal, when set, judges the seal of each entry whose sealed file
	// was opened (called from several goroutines) in place of Check's own
	// signature check: a verifier checks the signature with its trust
	// policy once, without reading the file again (an ECDSA verification
	// is the largest cost of an audit). Check still compares the file with
	// its log entry and reports the file's structural problems.
	JudgeSeal func(e *Entry, path string, o *timeline.Opened)
	// TSARoots are the TSA anchors checkpoint timestamps must chain to;
	// without them a checkpoint token is timestamp.untrusted.
	TSARoots *x509.CertPool
	// Select, when set, limits the file checks to the entries it accepts
	// (a shard of an audit, or a list of names); the log itself is always
	// checked whole. It is called once per entry, in log order, from the
	// goroutine that called Check.
	Select func(e *Entry) bool
}

// CheckResult is what Check found.
type CheckResult struct {
	Metadata      *Metadata
	Size          int64          // records in log/entries
	Checkpoint    *Checkpoint    // nil when missing or invalid
	CheckpointKey *CheckpointKey // the key that signed it
	// Stamps are the checkpoint timestamps that held, in size order.
	Stamps   []*Stamp
	Problems []Problem
}

// Has reports whether a problem with the code was found.
func (r *CheckResult) Has(code string) bool {
	for _, p := range r.Problems {
		if p.Code == code {
			return true
		}
	}
	return false
}

// Check is the archive's own consistency check: it reads the whole log,
// recomputes the Merkle tree and compares it with the stored hashes, the
// index and the checkpoint, follows the chain links, and checks every
// sealed file against its entry (unless SkipFiles), and that files/ holds
// nothing else. The error is for failures to read; everything found is a
// Problem. Check takes no lock and writes nothing.
func Check(dir string, opts CheckOptions) (*CheckResult, error) {
	meta, err := ReadMetadata(dir)
	if err != nil {
		return nil, err
	}
	c := &checker{dir: dir, meta: meta, opts: opts, res: &CheckResult{Metadata: meta}}
	l, err := openLog(dir, false)
	if err != nil {
		return nil, err
	}
	defer l.close()
	c.l = l
	if err := c.openRemote(); err != nil {
		return nil, err
	}
	c.newIndexes()
	c.checkpoint()

	// Files are checked by workers while the log is scanned; files/ is
	// walked while they finish.
	jobs := c.opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	jobs = c.fileWorkers(jobs)
	work := make(chan *Entry, jobs*4)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				c.checkFile(e)
			}
		}()
	}
	err = c.scan(work)
	close(work)
	if err == nil {
		c.crossCheck()
		err = c.walkFiles()
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(c.res.Problems, func(i, j int) bool {
		a, b := c.res.Problems[i], c.res.Problems[j]
		if a.Seq != b.Seq {
			return a.Seq < b.Seq
		}
		return a.Name < b.Name
	})
	return c.res, nil
}

type checker struct {
	dir  string
	meta *Metadata
	opts CheckOptions
	res  *CheckResult
	l    *logFiles
	mu   sync.Mutex

	witness *Checkpoint
	// Checkpoint timestamps (stamps.go): existedBy[i] is the earliest of
	// res.Stamps[i:], nextStamp the first stamp that may cover the entry
	// being scanned, stampRoots the kept checkpoints to compare with the
	// recomputed tree.
	existedBy  []*Stamp
	nextStamp  int
	stampRoots []stampRoot
	// What the entries share is found after the scan (crossCheck) from
	// per-entry indexes of 16 bytes an entry, so that an archive of
	// millions of entries is audited in bounded memory.
	names   *keyIndex      // archive names
	envs    *keyIndex      // envelopes
	sources *keyIndex      // source names (the envelopes' name)
	claims  []versionClaim // the records' prevVersion, where not 0, in seq order
	offsets []int64        // seq-1 → offset of the record in log/entries
	dirs    sync.Map       // directory under files/ → it is a real directory (linkedDir)
	remote  *s3Store       // the archive's S3 store; nil on disk (checks3.go)
}

// versionClaim is a record's prevVersion.
type versionClaim struct{ seq, prev int64 }

// newIndexes presizes the per-entry indexes from log/index when its last
// record describes the end of log/entries (the normal case), up to
// maxPresize entries. A damaged or tampered index (what an audit exists to
// report), or sparse log files, must not make Check reserve memory for
// entries that are not there: then, and beyond maxPresize, the indexes
// grow with the entries read.
func (c *checker) newIndexes() {
	const minPresize, maxPresize = 1024, 1 << 20
	n := int64(minPresize)
	isz, _ := fileSize(c.l.index)
	esz, _ := fileSize(c.l.entries)
	if k := isz / indexRecordLen; k > 0 && isz%indexRecordLen == 0 {
		var b [indexRecordLen]byte
		if _, err := c.l.index.ReadAt(b[:], isz-indexRecordLen); err == nil {
			if x, err := parseIndexRecord(b[:], k-1); err == nil && x.Offset+int64(x.Length) == esz {
				n = min(k, maxPresize)
			}
		}
	}
	seed := maphash.MakeSeed()
	c.names = newKeyIndex(n, seed, c.archiveNameOf)
	c.names.isKey = c.isArchiveName
	c.envs = newKeyIndex(n, seed, c.envelopeOf)
	c.sources = newKeyIndex(n, seed, c.sourceNameOf)
	c.offsets = make([]int64, 0, n)
}

func (c *checker) add(code string, seq int64, name, format string, args ...any) {
	c.mu.Lock()
	c.res.Problems = append(c.res.Problems, Problem{Code: code, Seq: seq, Name: name, Detail: fmt.Sprintf(format, args...)})
	c.mu.Unlock()
}

// checkpoint reads and verifies the checkpoint, its key and the witness.
func (c *checker) checkpoint() {
	keys, kh, bad, err := readAcceptedKeys(c.dir, c.meta.Origin)
	if err != nil {
		c.add(CodeKeyInvalid, 0, keysDir, "%v", err)
	}
	for _, b := range bad {
		c.add(CodeKeyInvalid, 0, keysDir, "%v", b)
	}
	if kh != nil && !kh.pinned {
		c.add(CodeKeysNotPinned, 0, keysDir, "the archive was made before checkpoint keys were pinned (no %s): any key in %s/ may sign its checkpoints", firstKeyFile, keysDir)
	}
	c.stamps(keys)
	cp, key, err := readCheckpoint(c.dir, c.meta.Origin, keys)
	switch {
	case err != nil:
		// The problem names the file already: "checkpoint: checkpoint: ..."
		// helps nobody.
		c.add(CodeCheckpointInvalid, 0, checkpointFile, "%s", strings.TrimPrefix(err.Error(), "checkpoint: "))
	case cp == nil:
		c.add(CodeCheckpointMissing, 0, checkpointFile, "the archive has no checkpoint")
	default:
		c.res.Checkpoint, c.res.CheckpointKey = cp, key
		if c.opts.Roots != nil {
			if err := verifyKeyChain(key, c.opts.Roots); err != nil {
				c.add(CodeCheckpointUntrusted, 0, checkpointFile, "the checkpoint signer %q: %v", key.Cert.Subject, err)
			}
		}
	}
	if c.opts.Witness != nil {
		w, err := ParseCheckpoint(c.opts.Witness)
		if err == nil {
			if k := keys[w.KeyHash]; k == nil {
				err = fmt.Errorf("signed by key %08x, which is not one of the archive's checkpoint keys", w.KeyHash)
			} else {
				w, err = OpenCheckpoint(c.opts.Witness, c.meta.Origin, k.Cert.PublicKey)
			}
		}
		if err != nil {
			c.add(CodeInconsistentWitness, 0, "", "the saved checkpoint does not verify: %v", err)
		} else {
			c.witness = w
			// A checkpoint only moves forward: one older than the saved
			// one was put back (the log may still hold the entries past
			// it, which no checkpoint would then vouch for).
			if cp := c.res.Checkpoint; cp != nil && cp.Size < w.Size {
				c.add(CodeInconsistentWitness, 0, checkpointFile, "the checkpoint covers %d entries, the saved checkpoint %d: an older checkpoint was put back", cp.Size, w.Size)
			}
		}
	}
}

func verifyKeyChain(k *CheckpointKey, roots *x509.CertPool) error {
	inter := x509.NewCertPool()
	for _, ic := range k.Intermediates {
		inter.AddCert(ic)
	}
	at := time.Now()
	if at.After(k.Cert.NotAfter) {
		at = k.Cert.NotAfter
	}
	if at.Before(k.Cert.NotBefore) {
		at = k.Cert.NotBefore
	}
	_, err := k.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// frontier holds the latest complete subtree hash at each level: all
// tlog.StoredHashes and tlog.TreeHash need when the tree grows by one.
type frontier struct{ h [64]tlog.Hash }

func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		level, _ := tlog.SplitStoredHashIndex(idx)
		out[i] = f.h[level]
	}
	return out, nil
}

// scan reads log/entries from the start, recomputing the tree.
func (c *checker) scan(work chan<- *Entry) error {
	esz, err := fileSize(c.l.entries)
	if err != nil {
		return errorf(ReasonIO, entriesFile, err, "")
	}
	isz, _ := fileSize(c.l.index)
	hsz, _ := fileSize(c.l.hashes)
	index := newRecordReader(c.l.index)
	hashes := newRecordReader(c.l.hashes)
	indexBad, hashesBad := false, false
	var fr frontier
	cp, w := c.res.Checkpoint, c.witness
	kept := c.stampRoots
	checkRoot := func(n int64) {
		for len(kept) > 0 && kept[0].size < n {
			kept = kept[1:]
		}
		keptHere := len(kept) > 0 && kept[0].size == n
		if !(cp != nil && cp.Size == n || w != nil && w.Size == n || keptHere) {
			return
		}
		root, _ := tlog.TreeHash(n, &fr)
		for ; len(kept) > 0 && kept[0].size == n; kept = kept[1:] {
			if root != kept[0].root {
				c.add(CodeRootMismatch, 0, kept[0].name, "the root of the first %d entries recomputed from log/entries is %x, this checkpoint's is %x", n, root[:8], kept[0].root[:8])
			}
		}
		if cp != nil && cp.Size == n && root != cp.Root {
			c.add(CodeRootMismatch, 0, checkpointFile, "the root of the first %d entries recomputed from log/entries is %x, the checkpoint's is %x", n, root[:8], cp.Root[:8])
		}
		if w != nil && w.Size == n && root != w.Root {
			c.add(CodeInconsistentWitness, 0, "", "the root of the first %d entries differs from the saved checkpoint's: the log was rewritten", n)
		}
	}
	checkRoot(0)

	next, stop := c.readAhead(esz)
	defer stop()
	prevHash := ""
	var n int64
	for {
		it := next()
		if it.err == io.EOF {
			break
		}
		if err := it.err; err != nil {
			if tornTail(c.l.entries, it.off, esz, err) && (cp == nil || n >= cp.Size) {
				c.add(CodeTornTail, 0, entriesFile, "%v (%d bytes; the next writer removes them)", err, esz-it.off)
			} else {
				c.add(CodeRecordInvalid, n+1, entriesFile, "%v; the records after it are not checked", err)
			}
			break
		}
		n++
		r, off, length, e := it.r, it.off, it.length, it.e
		c.offsets = append(c.offsets, off)
		e.Index, e.Seq = n-1, n
		c.checkEntry(e, r, prevHash)
		prevHash = it.envSHA256

		hs, _ := tlog.StoredHashesForRecordHash(n-1, e.LeafHash, &fr)
		for i, h := range hs {
			fr.h[i] = h
		}
		if !hashesBad {
			for i, h := range hs {
				var got tlog.Hash
				if !hashes.read(got[:]) {
					if off := tlog.StoredHashIndex(0, n-1); (cp == nil || n > cp.Size) && off*hashLen >= hsz {
						hashesBad = true // not yet written: rebuilt by the next writer
						break
					}
					c.add(CodeIndexMismatch, n, hashesFile, "log/hashes ends before the hashes of entry %d", n)
					hashesBad = true
					break
				}
				if got != h {
					c.add(CodeIndexMismatch, n, hashesFile, "stored hash %d of entry %d is not the one recomputed from log/entries", i, n)
					hashesBad = true
					break
				}
			}
		}
		if !indexBad {
			var b [indexRecordLen]byte
			if !index.read(b[:]) {
				if (cp == nil || n > cp.Size) && (n-1)*indexRecordLen >= isz {
					indexBad = true // not yet written: rebuilt by the next writer
				} else {
					c.add(CodeIndexMismatch, n, indexFile, "log/index ends before the record of entry %d", n)
					indexBad = true
				}
			} else {
				want := (&indexRecord{Offset: off, Length: length, Seq: n, NameHash: it.nameHash, SrcHash: it.srcHash}).marshal()
				if !bytes.Equal(b[:], want) {
					c.add(CodeIndexMismatch, n, indexFile, "index record %d does not describe entry %d", n-1, n)
					indexBad = true
				}
			}
		}
		checkRoot(n)
		if cp != nil && n > cp.Size {
			c.add(CodeEntryNotCovered, n, filesDir+"/"+e.ArchiveName, "entry %d is past the checkpoint (size %d): no signed checkpoint vouches for its place in the log yet", n, cp.Size)
		}
		e.ExistedBy = c.stampFor(n)
		if c.opts.Select == nil || c.opts.Select(e) {
			work <- e
		}
	}
	c.res.Size = n
	if !indexBad && isz > n*indexRecordLen {
		c.add(CodeIndexMismatch, 0, indexFile, "log/index has %d records, log/entries %d", isz/indexRecordLen, n)
	}
	if cp != nil && cp.Size > n {
		c.add(CodeTruncated, 0, entriesFile, "the log holds %d entries, the checkpoint covers %d", n, cp.Size)
	}
	if w != nil && w.Size > n {
		c.add(CodeInconsistentWitness, 0, entriesFile, "the log holds %d entries, the saved checkpoint covers %d: entries were removed", n, w.Size)
	}
	return nil
}

// scannedRecord is a record of log/entries, parsed by readAhead.
type scannedRecord struct {
	r         *record
	off       int64
	length    int
	err       error // io.EOF at the end; a *RecordError stops the scan
	e         *Entry
	envSHA256 string // the next entry's chain.prev
	nameHash  uint32 // of the archive name, for log/index
	srcHash   uint32 // of the source name
}

// readAhead reads log/entries on a goroutine of its own and parses its
// records in batches on every core (envelope parsing and hashing are most
// of a scan's work, and the file checks wait for the scan); next returns
// them in order. stop releases the goroutines when the scan ends early.
func (c *checker) readAhead(size int64) (next func() *scannedRecord, stop func()) {
	// A batch ends at batchLen records or batchBytes of records, and at
	// most inFlight batches wait for the scan: what readAhead holds stays
	// a few MiB whatever the number of cores and the envelopes' size.
	const batchLen, batchBytes = 128, 256 << 10
	type batch struct {
		items []scannedRecord
		ready chan struct{}
	}
	jobs := c.opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	inFlight := min(2*jobs, 8)
	ordered := make(chan *batch, inFlight)
	parse := make(chan *batch, inFlight)
	done := make(chan struct{})
	go func() {
		defer close(ordered)
		defer close(parse)
		sc := newRecordScanner(c.l.entries, 0, size)
		for last := false; !last; {
			b := &batch{items: make([]scannedRecord, 0, batchLen), ready: make(chan struct{})}
			for held := 0; len(b.items) < batchLen && held < batchBytes && !last; {
				off := sc.off
				r, _, length, err := sc.next()
				b.items = append(b.items, scannedRecord{r: r, off: off, length: length, err: err})
				held += length
				last = err != nil
			}
			select {
			case ordered <- b:
			case <-done:
				return
			}
			parse <- b // parse never blocks for long: the parsers drain it
		}
	}()
	for range min(jobs, inFlight) {
		go func() {
			for b := range parse {
				for i := range b.items {
					it := &b.items[i]
					if it.err != nil {
						continue
					}
					it.e = newEntry(it.r, it.off, it.length)
					it.envSHA256 = it.e.EnvelopeSHA256()
					it.nameHash, it.srcHash = nameHash(it.r.ArchiveName), nameHash(it.e.Name)
				}
				close(b.ready)
			}
		}()
	}
	var cur *batch
	var pos int
	next = func() *scannedRecord {
		for cur == nil || pos == len(cur.items) {
			b, ok := <-ordered
			if !ok {
				return &scannedRecord{err: io.EOF}
			}
			<-b.ready
			cur, pos = b, 0
		}
		pos++
		return &cur.items[pos-1]
	}
	var once sync.Once
	stop = func() { once.Do(func() { close(done) }) }
	return next, stop
}

// checkEntry checks a record's own consistency and its chain link.
func (c *checker) checkEntry(e *Entry, r *record, prevHash string) {
	name := filesDir + "/" + r.ArchiveName
	if r.Seq != e.Seq {
		c.add(CodeChainGap, e.Seq, name, "record %d of log/entries has seq %d", e.Seq, r.Seq)
	}
	c.names.add(r.ArchiveName, e.Seq)
	c.envs.addBytes(r.Envelope, e.Seq)
	env := e.Envelope
	if env == nil {
		c.add(codeSealMalformed, e.Seq, name, "the logged envelope: %v", e.EnvelopeErr)
		return
	}
	c.sources.add(env.Name, e.Seq)
	if r.PrevVersion != 0 {
		c.claims = append(c.claims, versionClaim{e.Seq, r.PrevVersion})
	}
	ch := env.Chain
	switch {
	case ch == nil:
		c.add(CodeChainMissing, e.Seq, name, "the seal has no chain member")
	default:
		if ch.ID != c.meta.ChainID {
			c.add(CodeChainIDMismatch, e.Seq, name, "chain.id is %q, the archive's is %q", ch.ID, c.meta.ChainID)
		}
		if ch.Seq != e.Seq {
			c.add(CodeChainGap, e.Seq, name, "entry %d holds the seal with chain.seq %d", e.Seq, ch.Seq)
		}
		if ch.Prev != prevHash {
			c.add(CodeChainPrevMismatch, e.Seq, name, "chain.prev is not the SHA-256 of entry %d's envelope", e.Seq-1)
		}
	}
}

// crossCheck finds what entries share: an archive name or a seal (each
// must be unique), and a source name (each entry's prevVersion must be the
// entry with the same source name before it, 0 for the first).
func (c *checker) crossCheck() {
	c.names.sort()
	c.names.shared(func(seqs []int64) {
		for i, seq := range seqs[1:] {
			name, _ := c.archiveNameOf(seq)
			c.add(CodeChainDuplicate, seq, filesDir+"/"+name, "archive name already used by entry %d", seqs[i])
		}
	})
	c.envs.sort()
	c.envs.shared(func(seqs []int64) {
		for i, seq := range seqs[1:] {
			name, _ := c.archiveNameOf(seq)
			c.add(CodeChainDuplicate, seq, filesDir+"/"+name, "the same seal as entry %d", seqs[i])
		}
	})
	c.sources.sort()
	var want []versionClaim
	c.sources.shared(func(seqs []int64) {
		for i, seq := range seqs[1:] {
			want = append(want, versionClaim{seq, seqs[i]})
		}
	})
	slices.SortFunc(want, func(a, b versionClaim) int { return cmp.Compare(a.seq, b.seq) })
	// Both lists are in seq order: merge them.
	got := c.claims
	for len(got) > 0 || len(want) > 0 {
		var seq, g, w int64
		switch {
		case len(want) == 0 || len(got) > 0 && got[0].seq < want[0].seq:
			seq, g = got[0].seq, got[0].prev
			got = got[1:]
		case len(got) == 0 || want[0].seq < got[0].seq:
			seq, w = want[0].seq, want[0].prev
			want = want[1:]
		default:
			seq, g, w = got[0].seq, got[0].prev, want[0].prev
			got, want = got[1:], want[1:]
		}
		if g != w {
			name, _ := c.archiveNameOf(seq)
			src, _ := c.sourceNameOf(seq)
			c.add(CodeRecordInvalid, seq, filesDir+"/"+name, "the record says the previous version of %q is entry %d, the log says %d", src, g, w)
		}
	}
}

// checkFile compares an entry with its sealed file.
func (c *checker) checkFile(e *Entry) {
	if c.remote != nil {
		c.checkObject(e)
		return
	}
	path := filePath(c.dir, e.ArchiveName)
	name := filesDir + "/" + e.ArchiveName
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		c.add(CodeEntryMissingFile, e.Seq, name, "the sealed file is missing")
		return
	}
	if err != nil {
		c.add(CodeEntryMissingFile, e.Seq, name, "%v", err)
		return
	}
	if !st.Mode().IsRegular() {
		c.add(CodeEntryMismatch, e.Seq, name, "not a regular file (%v)", st.Mode().Type())
		return
	}
	if d, ok := c.linkedDir(e.ArchiveName); !ok {
		c.add(CodeEntryMismatch, e.Seq, name, "%s/%s is not a directory of the archive (a symbolic link?)", filesDir, d)
		return
	}
	if st.Size() != e.SealedSize {
		c.add(CodeEntryMismatch, e.Seq, name, "the file is %d bytes, the log says %d", st.Size(), e.SealedSize)
	}
	if c.opts.SkipFiles {
		return
	}
	f, err := readonly.OpenNoFollow(path)
	if err != nil {
		c.add(CodeEntryMismatch, e.Seq, name, "%v", err)
		return
	}
	defer f.Close()
	o, err := timeline.OpenKnown(f, st.Size(), e.EnvelopeBytes, e.Envelope)
	if err != nil {
		c.add(CodeEntryMismatch, e.Seq, name, "%v", err)
		return
	}
	for _, p := range o.Problems {
		c.add(p.Code, e.Seq, name, "%s", p.Detail)
	}
	if o.EnvelopeBytes != nil && !bytes.Equal(o.EnvelopeBytes, e.EnvelopeBytes) {
		c.add(CodeEntryMismatch, e.Seq, name, "the file's seal is not the logged one (leaf %d)", e.Index)
	}
	c.judge(e, path, name, o)
}

// judge judges the seal of an opened sealed file.
func (c *checker) judge(e *Entry, path, name string, o *timeline.Opened) {
	if c.opts.JudgeSeal != nil {
		c.opts.JudgeSeal(e, path, o)
	} else if o.Envelope != nil {
		if cert, err := timeline.VerifySignature(o.Envelope); err != nil {
			c.add(timeline.SignatureCode(err), e.Seq, name, "%v", err)
		} else if timeline.HighS(o.Envelope, cert.PublicKey.(*ecdsa.PublicKey)) {
			c.add(timeline.CodeSignatureHighS, e.Seq, name, "the signature is high-S (s > n/2)")
		}
	}
}

// linkedDir checks that every directory between files/ and the archive
// name's file is a real directory, not a symbolic link to somewhere
// outside the archive; it returns the first that is not. Directories are
// looked at once per check (c.dirs).
func (c *checker) linkedDir(archiveName string) (string, bool) {
	for d := path.Dir(archiveName); d != "."; d = path.Dir(d) {
		if v, ok := c.dirs.Load(d); ok {
			if !v.(bool) {
				return d, false
			}
			continue
		}
		st, err := os.Lstat(filepath.Join(c.dir, filesDir, filepath.FromSlash(d)))
		real := err == nil && st.IsDir()
		c.dirs.Store(d, real)
		if !real {
			return d, false
		}
	}
	return "", true
}

// walkFiles reports files in files/ that no entry lists, and the
// quarantine.
func (c *checker) walkFiles() error {
	if c.remote != nil {
		return c.walkObjects()
	}
	root := filepath.Join(c.dir, filesDir)
	err := walkBatched(root, "", func(rel string) {
		if !c.names.has(rel) {
			c.add(CodeUnlistedFile, 0, filesDir+"/"+rel, "no log entry lists this file")
		}
	})
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && !dirExists(root)) {
		return errorf(ReasonIO, root, err, "")
	}
	q := filepath.Join(c.dir, quarantineDir)
	filepath.WalkDir(q, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(c.dir, p)
			c.add(CodeQuarantined, 0, filepath.ToSlash(rel), "recovery set this file aside: it had no log entry and could not be completed")
		}
		return nil
	})
	return nil
}

// recordReader reads fixed-size records sequentially.
type recordReader struct {
	r   *bufio.Reader
	err error
}

func newRecordReader(f logFile) *recordReader {
	return &recordReader{r: bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 256<<10)}
}

func (rr *recordReader) read(b []byte) bool {
	if rr.err != nil {
		return false
	}
	if _, err := io.ReadFull(rr.r, b); err != nil {
		rr.err = err
		return false
	}
	return true
}

// recordOf reads back the record of seq (for keyIndex confirmations).
func (c *checker) recordOf(seq int64) (*record, bool) {
	if seq < 1 || seq > int64(len(c.offsets)) {
		return nil, false
	}
	r, _, err := c.l.readRecord(c.offsets[seq-1], 0)
	return r, err == nil
}

func (c *checker) archiveNameOf(seq int64) (string, bool) {
	r, ok := c.recordOf(seq)
	if !ok {
		return "", false
	}
	return r.ArchiveName, true
}

// isArchiveName reports whether entry seq's archive name is name, reading
// only the name's bytes from the record: the scan has checked that record
// whole (its CRC, its fields), and walkFiles asks once per file in files/,
// where decoding the whole record again (envelope included) was most of
// the walk's cost.
func (c *checker) isArchiveName(seq int64, name string) bool {
	if seq < 1 || seq > int64(len(c.offsets)) || len(name) > maxNameLen {
		return false
	}
	// The body starts after the 4-byte length: version (1), seq, prevVersion,
	// sealedSize (8 each), then the name's length (2) and the name.
	const nameLenAt = 4 + 1 + 8 + 8 + 8
	var arr [256]byte
	b := arr[:0]
	if 2+len(name) > len(arr) {
		b = make([]byte, 0, 2+len(name))
	}
	b = b[:2+len(name)]
	if n, _ := c.l.entries.ReadAt(b, c.offsets[seq-1]+nameLenAt); n != len(b) {
		return false
	}
	return int(binary.BigEndian.Uint16(b)) == len(name) && string(b[2:]) == name
}

func (c *checker) envelopeOf(seq int64) (string, bool) {
	r, ok := c.recordOf(seq)
	if !ok {
		return "", false
	}
	return string(r.Envelope), true
}

func (c *checker) sourceNameOf(seq int64) (string, bool) {
	r, ok := c.recordOf(seq)
	if !ok {
		return "", false
	}
	env, err := timeline.ParseEnvelope(r.Envelope)
	if err != nil {
		return "", false
	}
	return env.Name, true
}

// walkBatched calls file for every non-directory below dir (relative,
// '/'-separated, prefixed by rel), reading directories a thousand entries at
// a time: filepath.WalkDir would hold and sort a whole directory, and the
// files/ directory of a large archive holds millions.
func walkBatched(dir, rel string, file func(rel string)) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		des, err := d.ReadDir(1000)
		for _, de := range des {
			name := de.Name()
			if rel != "" {
				name = rel + "/" + name
			}
			if de.IsDir() {
				if err := walkBatched(filepath.Join(dir, de.Name()), name, file); err != nil {
					return err
				}
				continue
			}
			file(name)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
