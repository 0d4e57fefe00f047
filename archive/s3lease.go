package archive

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
)

// The S3 writer's lock: a lease object (lockFile, "lock", as on disk),
// taken and renewed with conditional writes. A writer creates it
// (If-None-Match: *) or takes over one whose lease has expired, replacing
// it only if it is still the version it read (If-Match: its ETag); it
// renews it the same way before it writes, and gives it up at Close by
// writing it expired. A second writer is refused with ReasonLocked naming
// the holder; a writer whose lease was taken over fails at its next write.
// Behind the lease, the conditional segment appends (s3LogFile.WriteAt)
// refuse a writer that appends where another did, so that two writers
// never interleave even if clocks disagree.

// s3LeaseTTL is how long a lease lasts without renewal: how long a writer
// that died holds the archive.
var s3LeaseTTL = 2 * time.Minute

type leaseDoc struct {
	ID      string    `json:"id"`
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

type s3Lease struct {
	st      *s3Store
	ttl     time.Duration // s3LeaseTTL when it was taken
	doc     leaseDoc
	etag    string
	renewed time.Time
}

func leaseHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("tlseal pid %d on %s", os.Getpid(), host)
}

// putLease writes the lease object under a condition: ifMatch (an ETag)
// or, when empty, If-None-Match: *. It returns the new ETag; a failed
// condition is ReasonLocked.
func (s *s3Store) putLease(doc leaseDoc, ifMatch string) (string, error) {
	data, _ := json.Marshal(doc)
	var opts minio.PutObjectOptions
	opts.ContentType = "application/json"
	if ifMatch != "" {
		opts.SetMatchETag(ifMatch)
	} else {
		opts.SetMatchETagExcept("*")
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	info, err := s.client.PutObject(ctx, s.loc.Bucket, s.key(lockFile), bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		r := minio.ToErrorResponse(err)
		if r.StatusCode == http.StatusPreconditionFailed || r.Code == "PreconditionFailed" || r.StatusCode == http.StatusConflict {
			return "", errorf(ReasonLocked, s.loc.String(), nil, "another writer took the archive's lease")
		}
		return "", s.s3Err(lockFile, err)
	}
	return info.ETag, nil
}

// acquireLease takes the archive's writer lease.
func (s *s3Store) acquireLease() (*s3Lease, error) {
	now := time.Now()
	ttl := s3LeaseTTL
	l := &s3Lease{st: s, ttl: ttl, doc: leaseDoc{ID: randomID(), Holder: leaseHolder(), Expires: now.Add(ttl).UTC()}}
	etag, err := s.putLease(l.doc, "")
	if err == nil {
		l.etag, l.renewed = etag, now
		return l, nil
	}
	if ReasonOf(err) != ReasonLocked {
		return nil, err
	}
	// There is a lease: take it over only when it has expired.
	ctx, cancel := ctxTimeout()
	defer cancel()
	obj, err := s.client.GetObject(ctx, s.loc.Bucket, s.key(lockFile), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.s3Err(lockFile, err)
	}
	defer obj.Close()
	info, err := obj.Stat()
	if err != nil {
		return nil, s.s3Err(lockFile, err)
	}
	var cur leaseDoc
	if err := json.NewDecoder(obj).Decode(&cur); err == nil && now.Before(cur.Expires) {
		return nil, errorf(ReasonLocked, s.loc.String(), nil, "%s is writing to it (its lease runs until %s; one writer at a time, readers need no lock)", cur.Holder, cur.Expires.Format(time.RFC3339))
	}
	etag, err = s.putLease(l.doc, info.ETag)
	if err != nil {
		return nil, err
	}
	l.etag, l.renewed = etag, now
	return l, nil
}

// renew extends the lease when a quarter of it has passed.
func (l *s3Lease) renew() error {
	now := time.Now()
	if now.Sub(l.renewed) < l.ttl/4 {
		return nil
	}
	doc := l.doc
	doc.Expires = now.Add(l.ttl).UTC()
	etag, err := l.st.putLease(doc, l.etag)
	if err != nil {
		if ReasonOf(err) == ReasonLocked {
			return errorf(ReasonLocked, l.st.loc.String(), nil, "this writer's lease was taken over by another writer (it was not renewed for %s)", now.Sub(l.renewed).Round(time.Second))
		}
		return err
	}
	l.doc, l.etag, l.renewed = doc, etag, now
	return nil
}

// release gives the lease up (writes it expired).
func (l *s3Lease) release() {
	doc := l.doc
	doc.Expires = time.Now().Add(-time.Second).UTC()
	l.st.putLease(doc, l.etag)
}

func randomID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("%x", time.Now().UnixNano())
	}
	return fmt.Sprintf("%x", b)
}
