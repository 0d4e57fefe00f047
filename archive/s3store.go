package archive

// The S3 driver: an archive in a bucket, under a prefix
// (s3://BUCKET/PREFIX), with the layout of a directory (docs/archive.md,
// "Archives on object storage"). Objects are written once and never
// replaced (most are under Object Lock retention), so the three files of
// log/ that grow are stored as segments: log/entries/<offset>, where
// <offset> is the segment's first byte in the file as 16 lowercase hex
// digits, and the file is the concatenation of its segments from offset 0.
// Its bytes are exactly those of the file on disk.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

const s3Scheme = "s3://"

// s3RequestTimeout bounds one request to the object store.
const s3RequestTimeout = 2 * time.Minute

// s3Location is a parsed s3://BUCKET/PREFIX.
type s3Location struct {
	Bucket, Prefix string
}

// parseS3Location checks an s3:// location: a bucket name as S3 allows it
// (3 to 63 lowercase letters, digits, '.' and '-') and an optional prefix
// of '/'-separated elements, none empty, "." or "..".
func parseS3Location(loc string) (s3Location, error) {
	rest, ok := strings.CutPrefix(loc, s3Scheme)
	if !ok {
		return s3Location{}, errorf(ReasonInvalidArgument, loc, nil, "not an s3:// location")
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	prefix = strings.TrimSuffix(prefix, "/")
	bad := func(format string, args ...any) (s3Location, error) {
		return s3Location{}, errorf(ReasonInvalidArgument, loc, nil, format, args...)
	}
	if len(bucket) < 3 || len(bucket) > 63 {
		return bad("the bucket name %q must have 3 to 63 characters (s3://BUCKET/PREFIX)", bucket)
	}
	for _, c := range bucket {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("the bucket name %q may only hold lowercase letters, digits, '.' and '-'", bucket)
		}
	}
	if prefix != "" {
		for _, el := range strings.Split(prefix, "/") {
			if el == "" || el == "." || el == ".." {
				return bad("the prefix %q has an empty, '.' or '..' element", prefix)
			}
		}
		if len(prefix) > 512 {
			return bad("the prefix is longer than 512 bytes")
		}
	}
	return s3Location{Bucket: bucket, Prefix: prefix}, nil
}

func (l s3Location) String() string {
	if l.Prefix == "" {
		return s3Scheme + l.Bucket
	}
	return s3Scheme + l.Bucket + "/" + l.Prefix
}

// s3Store is an archive's location in an object store.
type s3Store struct {
	loc    s3Location
	client *minio.Client

	policyOnce sync.Once
	policy     *Retention // the archive's retention.json; nil when absent
	policyErr  error

	mu      sync.Mutex
	judging bool              // a Check is running: judge the retention of what is read
	ret     map[string]string // object → what is wrong with its retention (Check reports it)
}

var s3Stores sync.Map // location string → *s3Store

// openS3 returns the store of an s3:// location, one per location and
// process (a client keeps its connections).
func openS3(dir string) (*s3Store, error) {
	loc, err := parseS3Location(dir)
	if err != nil {
		return nil, err
	}
	key := loc.String()
	if st, ok := s3Stores.Load(key); ok {
		return st.(*s3Store), nil
	}
	client, err := newS3Client(loc)
	if err != nil {
		return nil, err
	}
	st, _ := s3Stores.LoadOrStore(key, &s3Store{loc: loc, client: client, ret: map[string]string{}})
	return st.(*s3Store), nil
}

// key is the object key of a layout name.
func (s *s3Store) key(name string) string {
	if s.loc.Prefix == "" {
		return name
	}
	return s.loc.Prefix + "/" + name
}

// url is how a layout name is shown to people.
func (s *s3Store) url(name string) string { return s.loc.String() + "/" + name }

func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s3RequestTimeout)
}

// notFound reports whether err is the store's "no such object" (or
// bucket: a missing bucket holds no archive either).
func notFound(err error) bool {
	if err == nil {
		return false
	}
	r := minio.ToErrorResponse(err)
	return r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket"
}

// s3Err classifies an object store error as an archive error.
func (s *s3Store) s3Err(name string, err error) error {
	if notFound(err) {
		return fmt.Errorf("%s: %w", s.url(name), fs.ErrNotExist)
	}
	r := minio.ToErrorResponse(err)
	switch {
	case r.Code == "NoSuchBucket":
		return errorf(ReasonNotArchive, s.loc.String(), err, "the bucket %s does not exist", s.loc.Bucket)
	case r.Code == "AccessDenied" || r.Code == "InvalidAccessKeyId" || r.Code == "SignatureDoesNotMatch":
		return errorf(ReasonIO, s.url(name), err, "the object store refused the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/credentials)")
	}
	return errorf(ReasonIO, s.url(name), err, "")
}

// readObject reads a whole object of at most max bytes (more is cut at
// max+... for the caller to notice: it reads max bytes at most). A missing
// object is fs.ErrNotExist.
func (s *s3Store) readObject(name string, max int64) ([]byte, error) {
	ctx, cancel := ctxTimeout()
	defer cancel()
	obj, err := s.client.GetObject(ctx, s.loc.Bucket, s.key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.s3Err(name, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, max))
	if err != nil {
		return nil, s.s3Err(name, err)
	}
	if info, err := obj.Stat(); err == nil {
		s.noteRetention(name, info)
	}
	return data, nil
}

// exists reports whether an object exists.
func (s *s3Store) exists(name string) (bool, error) {
	ctx, cancel := ctxTimeout()
	defer cancel()
	_, err := s.client.StatObject(ctx, s.loc.Bucket, s.key(name), minio.StatObjectOptions{})
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, s.s3Err(name, err)
	}
	return true, nil
}

// listNames returns the names of the objects right below a layout
// directory (not recursive).
func (s *s3Store) listNames(dir string) ([]string, error) {
	var names []string
	err := s.walk(dir, false, func(rel string, _ int64) error {
		names = append(names, rel)
		return nil
	})
	return names, err
}

// walk calls fn for every object below a layout directory, with its name
// relative to the directory and its size, in key order, a page at a time.
func (s *s3Store) walk(dir string, recursive bool, fn func(rel string, size int64) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prefix := s.key(dir) + "/"
	if dir == "" {
		prefix = strings.TrimPrefix(s.loc.Prefix+"/", "/")
	}
	for info := range s.client.ListObjects(ctx, s.loc.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive}) {
		if info.Err != nil {
			return s.s3Err(dir, info.Err)
		}
		rel := strings.TrimPrefix(info.Key, prefix)
		if rel == "" || strings.HasSuffix(rel, "/") {
			continue // a "directory" (common prefix) or a directory marker
		}
		if err := fn(rel, info.Size); err != nil {
			return err
		}
	}
	return nil
}

// isRemoteArchive reports whether an s3:// location holds an archive.
func isRemoteArchive(dir string) bool {
	st, err := openS3(dir)
	if err != nil {
		return false
	}
	ok, err := st.exists(metadataFile)
	return err == nil && ok
}

// segmentName is the object name of the segment of a log file starting at
// off.
func segmentName(file string, off int64) string { return fmt.Sprintf("%s/%016x", file, off) }

// s3LogFile is a log file stored as segments. Readers use ReadAt and
// Stat; the S3 writer appends with WriteAt (s3writer.go).
type s3LogFile struct {
	st   *s3Store
	name string  // log/entries, log/hashes, log/index
	offs []int64 // the segments' first bytes, increasing, offs[0] = 0
	size int64
	gap  string // what ends the file early (a missing segment), for Check

	write *Retention // the writer's: Sync appends segments with this retention
	now   func() time.Time
	tail  []byte // written after size, not yet synced (the next segment)

	cmu   sync.Mutex
	cache map[int64][]byte // small segments by first byte (bounded: s3CacheSegments)
}

// s3CacheSegments bounds the segments a log file keeps in memory: the
// writer's reads of recent hashes, and small records read again.
const s3CacheSegments = 8192

// s3SmallSegment is the largest segment read whole and cached.
const s3SmallSegment = 64 << 10

// openS3Log lists the segments of log/'s three files. For the writer
// (write), they append with the archive's retention policy.
func openS3Log(dir string, write bool) (*logFiles, error) {
	st, err := openS3(dir)
	if err != nil {
		return nil, err
	}
	var ret *Retention
	if write {
		if ret, err = st.loadPolicy(); err != nil {
			return nil, err
		}
		if ret == nil {
			return nil, errorf(ReasonCorrupt, dir, nil, "the archive has no retention policy (%s): tlseal does not write to it", retentionFile)
		}
	}
	l := &logFiles{dir: dir}
	for _, f := range []struct {
		name string
		dst  *logFile
	}{{entriesFile, &l.entries}, {hashesFile, &l.hashes}, {indexFile, &l.index}} {
		lf, err := st.openSegments(f.name)
		if err != nil {
			return nil, err
		}
		if write {
			if lf.gap != "" {
				return nil, errorf(ReasonCorrupt, dir, nil, "%s", lf.gap)
			}
			lf.write, lf.now = ret, time.Now
		}
		*f.dst = lf
	}
	return l, nil
}

// openSegments lists a log file's segments. The file ends where the
// segments stop being contiguous: a missing segment (an object deleted)
// cuts it there, as a truncation would, and Check reports what it cut.
func (s *s3Store) openSegments(file string) (*s3LogFile, error) {
	f := &s3LogFile{st: s, name: file}
	type seg struct{ off, size int64 }
	var segs []seg
	err := s.walk(file, false, func(rel string, size int64) error {
		off, err := strconv.ParseUint(rel, 16, 63)
		if err != nil || len(rel) != 16 || rel != strings.ToLower(rel) {
			f.gap = fmt.Sprintf("%s/%s is not a segment name (16 lowercase hex digits)", file, rel)
			return nil
		}
		segs = append(segs, seg{int64(off), size})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].off < segs[j].off })
	for _, sg := range segs {
		if sg.off != f.size {
			if f.gap == "" {
				if sg.off > f.size {
					f.gap = fmt.Sprintf("%s ends at byte %d: the segment starting there is missing (the next starts at %d)", file, f.size, sg.off)
				} else {
					f.gap = fmt.Sprintf("%s: segment %016x overlaps the one before it", file, sg.off)
				}
			}
			break
		}
		if sg.size == 0 {
			continue
		}
		f.offs = append(f.offs, sg.off)
		f.size += sg.size
	}
	return f, nil
}

// segEnd is where segment i ends.
func (f *s3LogFile) segEnd(i int) int64 {
	if i+1 < len(f.offs) {
		return f.offs[i+1]
	}
	return f.size
}

// s3Parallel is how many segment reads one ReadAt makes at once.
const s3Parallel = 64

func (f *s3LogFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if len(f.tail) > 0 && off+int64(len(p)) > f.size {
		// The writer's unsynced tail, after the segments.
		var n int
		var err error
		if off < f.size {
			if n, err = f.ReadAt(p[:f.size-off], off); err != nil {
				return n, err
			}
		}
		from := max(off, f.size) - f.size
		if from >= int64(len(f.tail)) {
			return n, io.EOF
		}
		m := copy(p[n:], f.tail[from:])
		if n+m < len(p) {
			return n + m, io.EOF
		}
		return n + m, nil
	}
	if off >= f.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), f.size-off))
	type piece struct {
		seg        int
		start, end int64 // within the file
	}
	var pieces []piece
	i := sort.Search(len(f.offs), func(i int) bool { return f.offs[i] > off }) - 1
	for pos := off; pos < off+int64(n); i++ {
		end := min(f.segEnd(i), off+int64(n))
		pieces = append(pieces, piece{i, pos, end})
		pos = end
	}
	errs := make([]error, len(pieces))
	read := func(k int) {
		pc := pieces[k]
		start, end := f.offs[pc.seg], f.segEnd(pc.seg)
		dst := p[pc.start-off : pc.end-off]
		if end-start <= s3SmallSegment {
			seg, err := f.segment(start, end)
			if err == nil {
				copy(dst, seg[pc.start-start:])
			}
			errs[k] = err
			return
		}
		errs[k] = f.st.readRange(segmentName(f.name, start), pc.start-start, dst, pc.end-pc.start == end-start)
	}
	if len(pieces) == 1 {
		read(0)
	} else {
		sem := make(chan struct{}, s3Parallel)
		var wg sync.WaitGroup
		for k := range pieces {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				read(k)
				<-sem
			}()
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readRange reads len(b) bytes of an object from off (the whole object
// when whole).
func (s *s3Store) readRange(name string, off int64, b []byte, whole bool) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	var opts minio.GetObjectOptions
	if !whole {
		if err := opts.SetRange(off, off+int64(len(b))-1); err != nil {
			return errorf(ReasonIO, s.url(name), err, "")
		}
	}
	obj, err := s.client.GetObject(ctx, s.loc.Bucket, s.key(name), opts)
	if err != nil {
		return s.s3Err(name, err)
	}
	defer obj.Close()
	if _, err := io.ReadFull(obj, b); err != nil {
		if notFound(err) {
			return errorf(ReasonCorrupt, s.url(name), err, "a log segment disappeared while it was read")
		}
		return s.s3Err(name, err)
	}
	if info, err := obj.Stat(); err == nil {
		s.noteRetention(name, info)
	}
	return nil
}

type s3FileInfo struct {
	name string
	size int64
}

func (i s3FileInfo) Name() string       { return path.Base(i.name) }
func (i s3FileInfo) Size() int64        { return i.size }
func (i s3FileInfo) Mode() fs.FileMode  { return 0o444 }
func (i s3FileInfo) ModTime() time.Time { return time.Time{} }
func (i s3FileInfo) IsDir() bool        { return false }
func (i s3FileInfo) Sys() any           { return nil }

// segment returns a small segment whole, from the cache or the store.
func (f *s3LogFile) segment(start, end int64) ([]byte, error) {
	f.cmu.Lock()
	seg, ok := f.cache[start]
	f.cmu.Unlock()
	if ok {
		return seg, nil
	}
	seg = make([]byte, end-start)
	if err := f.st.readRange(segmentName(f.name, start), 0, seg, true); err != nil {
		return nil, err
	}
	f.remember(start, seg)
	return seg, nil
}

func (f *s3LogFile) remember(start int64, seg []byte) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	if f.cache == nil || len(f.cache) >= s3CacheSegments {
		f.cache = map[int64][]byte{}
	}
	f.cache[start] = seg
}

func (f *s3LogFile) Stat() (fs.FileInfo, error) {
	return s3FileInfo{f.name, f.size + int64(len(f.tail))}, nil
}

var errS3ReadOnly = errors.New("a log file on object storage is read through its segments; the S3 writer appends new segments")

// WriteAt appends b to the file's tail (off = its size); Sync makes the
// tail the next segment. Writing bytes that are there already (recovery
// redoing an append) is a success; other bytes there are refused.
func (f *s3LogFile) WriteAt(b []byte, off int64) (int, error) {
	if f.write == nil {
		return 0, errS3ReadOnly
	}
	end := f.size + int64(len(f.tail))
	switch {
	case len(b) == 0:
		return 0, nil
	case off == end:
		f.tail = append(f.tail, b...)
		return len(b), nil
	case off+int64(len(b)) <= end:
		got := make([]byte, len(b))
		if n, err := f.ReadAt(got, off); err != nil && n < len(b) {
			return 0, err
		}
		if !bytes.Equal(got, b) {
			return 0, errorf(ReasonLocked, f.st.url(f.name), nil, "bytes %d to %d are there already and differ: another writer appended", off, off+int64(len(b)))
		}
		return len(b), nil
	default:
		return 0, errorf(ReasonCorrupt, f.st.url(f.name), nil, "a write at byte %d of a file of %d bytes", off, end)
	}
}

// Sync writes the tail as the segment at its offset: a conditional PUT
// (If-None-Match: *), so that of two writers appending at the same place
// one is refused (ReasonLocked) and nothing interleaves; the PUT is
// durable when it returns. An object already there with the same bytes (a
// request retried after its answer was lost) is a success.
func (f *s3LogFile) Sync() error {
	if f.write == nil {
		return errS3ReadOnly
	}
	if len(f.tail) == 0 {
		return nil
	}
	b, off := f.tail, f.size
	name := segmentName(f.name, off)
	err := f.st.putOnce(name, bytes.NewReader(b), int64(len(b)), f.write, f.now())
	if ReasonOf(err) == ReasonExists {
		got, rerr := f.st.readObject(name, int64(len(b))+1)
		if rerr != nil {
			return rerr
		}
		if !bytes.Equal(got, b) {
			return errorf(ReasonLocked, f.st.url(name), nil, "another writer appended there first")
		}
		err = nil
	}
	if err != nil {
		return err
	}
	f.offs = append(f.offs, off)
	f.size += int64(len(b))
	f.tail = nil
	if len(b) <= s3SmallSegment {
		f.remember(off, b)
	}
	return nil
}

// Truncate drops unsynced bytes (an append that failed): segments are
// never removed.
func (f *s3LogFile) Truncate(size int64) error {
	if f.write == nil || size < f.size || size > f.size+int64(len(f.tail)) {
		return errS3ReadOnly
	}
	f.tail = f.tail[:size-f.size]
	return nil
}

func (f *s3LogFile) Close() error { return nil }

// s3Object reads a sealed file: objects up to s3WholeRead bytes are read
// whole at the first ReadAt, larger ones as a stream that ReadAt follows
// while it reads forward (timeline.OpenKnown reads a file front to back
// once, after peeking at its ends), reopened at another offset otherwise.
// Memory stays bounded by s3WholeRead per file being checked.
type s3Object struct {
	st   *s3Store
	name string
	size int64
	info minio.ObjectInfo

	whole []byte
	body  *minio.Object
	pos   int64
	stop  context.CancelFunc
}

const s3WholeRead = 4 << 20

// openObject opens a sealed file; fs.ErrNotExist when it is missing.
func (s *s3Store) openObject(name string) (*s3Object, error) {
	ctx, cancel := context.WithCancel(context.Background())
	obj, err := s.client.GetObject(ctx, s.loc.Bucket, s.key(name), minio.GetObjectOptions{})
	if err != nil {
		cancel()
		return nil, s.s3Err(name, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		cancel()
		return nil, s.s3Err(name, err)
	}
	o := &s3Object{st: s, name: name, size: info.Size, info: info, body: obj, stop: cancel}
	if o.size <= s3WholeRead {
		o.whole = make([]byte, o.size)
		_, err := io.ReadFull(obj, o.whole)
		o.closeBody()
		if err != nil {
			return nil, s.s3Err(name, err)
		}
	}
	return o, nil
}

func (o *s3Object) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
	if o.stop != nil {
		o.stop()
		o.stop = nil
	}
}

// Size is the object's size.
func (o *s3Object) Size() int64 { return o.size }

// Close releases the object's stream.
func (o *s3Object) Close() error {
	o.closeBody()
	return nil
}

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if o.whole != nil {
		if off >= int64(len(o.whole)) {
			return 0, io.EOF
		}
		n := copy(p, o.whole[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), o.size-off))
	if o.body == nil || off != o.pos {
		o.closeBody()
		// A small read elsewhere (a peek at the end) is read as a range
		// and does not disturb the stream it would need to reopen.
		if want <= 64<<10 && o.pos > 0 {
			if err := o.st.readRange(o.name, off, p[:want], false); err != nil {
				return 0, err
			}
			if want < len(p) {
				return want, io.EOF
			}
			return want, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		var opts minio.GetObjectOptions
		opts.SetRange(off, o.size-1)
		obj, err := o.st.client.GetObject(ctx, o.st.loc.Bucket, o.st.key(o.name), opts)
		if err != nil {
			cancel()
			return 0, o.st.s3Err(o.name, err)
		}
		o.body, o.pos, o.stop = obj, off, cancel
	}
	n, err := io.ReadFull(o.body, p[:want])
	o.pos += int64(n)
	if err != nil {
		o.closeBody()
		return n, o.st.s3Err(o.name, err)
	}
	if want < len(p) {
		return want, io.EOF
	}
	return want, nil
}

// putOnce writes an object that must not exist yet (If-None-Match: *),
// with the archive's retention. When it exists already with the same
// bytes (an interrupted copy resumed), that is success; with other bytes
// it is an error of reason ReasonExists.
func (s *s3Store) putOnce(name string, data io.Reader, size int64, ret *Retention, now time.Time) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: size <= 64<<20, PartSize: 16 << 20}
	opts.SetMatchETagExcept("*")
	if ret != nil {
		opts.Mode = ret.minioMode()
		opts.RetainUntilDate = ret.Until(now)
	}
	_, err := s.client.PutObject(ctx, s.loc.Bucket, s.key(name), data, size, opts)
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	if r.StatusCode == http.StatusPreconditionFailed || r.Code == "PreconditionFailed" {
		return errorf(ReasonExists, s.url(name), nil, "the object exists already")
	}
	return s.s3Err(name, err)
}

// putObject writes an object that may exist (a new version of it: the
// checkpoint), with the retention.
func (s *s3Store) putObject(name string, data []byte, ret *Retention, now time.Time) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}
	if ret != nil {
		opts.Mode = ret.minioMode()
		opts.RetainUntilDate = ret.Until(now)
	}
	if _, err := s.client.PutObject(ctx, s.loc.Bucket, s.key(name), bytes.NewReader(data), int64(len(data)), opts); err != nil {
		return s.s3Err(name, err)
	}
	return nil
}

// putBytesOnce is putOnce of bytes; an existing object with the same bytes
// is success.
func (s *s3Store) putBytesOnce(name string, data []byte, ret *Retention, now time.Time) error {
	err := s.putOnce(name, bytes.NewReader(data), int64(len(data)), ret, now)
	if ReasonOf(err) != ReasonExists {
		return err
	}
	got, rerr := s.readObject(name, int64(len(data))+1)
	if rerr != nil {
		return rerr
	}
	if !bytes.Equal(got, data) {
		return err
	}
	return nil
}

// retentionProblems returns what noteRetention found, by object name.
func (s *s3Store) retentionProblems() []Problem {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Problem
	for name, msg := range s.ret {
		out = append(out, Problem{Code: CodeRetentionMissing, Name: name, Detail: msg})
	}
	slices.SortFunc(out, func(a, b Problem) int { return strings.Compare(a.Name, b.Name) })
	return out
}
