package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tlseal/tlseal/internal/tests3"
)

var s3Env sync.Once

// s3Location returns a fresh archive location in a new Object Lock bucket
// of the process's S3 test server (tests3: skipped without it).
func newS3Location(t *testing.T) (*tests3.Server, string) {
	t.Helper()
	srv := tests3.Shared(t)
	s3Env.Do(srv.SetenvProcess)
	return srv, "s3://" + srv.Bucket(t, true) + "/evidence/a1"
}

// uploadRaw copies an archive directory to S3 byte for byte, whatever
// state it is in (tampered, torn): each log file as one segment, every
// other file under its name. With ret, retention.json and every object's
// retention.
func uploadRaw(t *testing.T, dir, loc string, ret *Retention) {
	t.Helper()
	if !rawCopyable(t, dir) {
		t.Fatalf("%s holds other files than regular files and directories", dir)
	}
	st, err := openS3(loc)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if ret != nil {
		if err := st.putBytesOnce(retentionFile, ret.marshal(), ret, now); err != nil {
			t.Fatal(err)
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == lockFile || strings.HasPrefix(rel, tmpDir+"/") || rel == pendingFile {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", rel)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := rel
		if rel == entriesFile || rel == hashesFile || rel == indexFile {
			if len(data) == 0 {
				return nil
			}
			name = segmentName(rel, 0)
		}
		return st.putBytesOnce(name, data, ret, now)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rawCopyable reports whether a directory holds only regular files and
// directories.
func rawCopyable(t *testing.T, dir string) bool {
	ok := true
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !d.Type().IsRegular() {
			ok = false
		}
		return nil
	})
	return ok
}

var testRetention = mustRetention("1d", "governance")

func mustRetention(period, mode string) *Retention {
	r, err := ParseRetention(period, mode)
	if err != nil {
		panic(err)
	}
	return r
}

type problemKey struct {
	Code string
	Seq  int64
	Name string
}

func problemKeys(res *CheckResult) []problemKey {
	var out []problemKey
	for _, p := range res.Problems {
		out = append(out, problemKey{p.Code, p.Seq, p.Name})
	}
	slices.SortFunc(out, func(a, b problemKey) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	return out
}

// compareOnS3 checks the archive in dir again after copying it byte for
// byte to the S3 test server, and fails unless the problems are the same
// (code, entry, name). It does nothing without the server (the disk
// checks of the caller still run).
func compareOnS3(t *testing.T, dir string, opts CheckOptions, disk *CheckResult) {
	t.Helper()
	if !tests3.Available() {
		return
	}
	if !rawCopyable(t, dir) {
		t.Log("not compared on S3: the archive has symbolic links, which object storage does not have")
		return
	}
	_, loc := newS3Location(t)
	uploadRaw(t, dir, loc, testRetention)
	res, err := Check(loc, opts)
	if err != nil {
		t.Fatalf("Check on S3: %v", err)
	}
	want, got := problemKeys(disk), problemKeys(res)
	if !slices.Equal(want, got) {
		t.Errorf("Check on S3 found other problems than on disk\ndisk:\n%s\nS3:\n%s", problemCodes(disk), problemCodes(res))
	}
}

func TestS3ImportCheckProveExport(t *testing.T) {
	srv, loc := newS3Location(t)
	env := newEnv(t)
	dir := buildArchive(t, env, 12)
	ret := mustRetention("2d", "compliance")
	stats, err := Import(dir, loc, ret)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Entries != 13 {
		t.Errorf("imported %d entries", stats.Entries)
	}
	if !IsArchive(loc) {
		t.Fatal("IsArchive of the import is false")
	}
	res := mustCheck(t, loc, CheckOptions{})
	if res.Size != 13 || res.Checkpoint == nil || res.Checkpoint.Size != 13 {
		t.Fatalf("Check on S3: size %d, checkpoint %+v", res.Size, res.Checkpoint)
	}
	// Every object is locked in compliance mode for the policy's period.
	ls, _ := parseS3Location(loc)
	ctx := context.Background()
	n := 0
	for info := range srv.Client.ListObjects(ctx, ls.Bucket, minio.ListObjectsOptions{Prefix: ls.Prefix + "/", Recursive: true}) {
		if info.Err != nil {
			t.Fatal(info.Err)
		}
		mode, until, err := srv.Client.GetObjectRetention(ctx, ls.Bucket, info.Key, "")
		if err != nil || mode == nil || *mode != minio.Compliance || until == nil || until.Before(time.Now().Add(47*time.Hour)) {
			t.Errorf("%s: retention %v until %v (%v)", info.Key, mode, until, err)
		}
		n++
	}
	if n < 13+4 {
		t.Errorf("only %d objects", n)
	}
	// A locked object can be neither removed nor overwritten, and the
	// audit still passes.
	key := ls.Prefix + "/" + filesDir + "/" + eventName(3)
	info, err := srv.Client.StatObject(ctx, ls.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Client.RemoveObject(ctx, ls.Bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true}); err == nil {
		t.Fatal("a compliance-locked sealed file was deleted")
	}
	st, _ := openS3(loc)
	if err := st.putOnce(filesDir+"/"+eventName(3), bytes.NewReader([]byte("{}")), 2, nil, time.Now()); ReasonOf(err) != ReasonExists {
		t.Fatalf("overwriting a sealed file: %v", err)
	}
	mustCheck(t, loc, CheckOptions{})

	// The reader: the same proofs as on disk, byte for byte.
	rd, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rs, err := OpenReader(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if rs.Size() != rd.Size() {
		t.Fatalf("sizes %d and %d", rs.Size(), rd.Size())
	}
	for _, name := range []string{eventName(1), eventName(7), "rec.wav"} {
		ed, err := rd.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		es, err := rs.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		pd, err := rd.Prove(ed)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := rs.Prove(es)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pd.Marshal(), ps.Marshal()) {
			t.Errorf("%s: the proofs differ", name)
		}
	}
	// Importing again is refused: an archive is there.
	if _, err := Import(dir, loc, ret); ReasonOf(err) != ReasonExists {
		t.Errorf("second import: %v", err)
	}

	// Export gives the same bytes as the original.
	out := filepath.Join(t.TempDir(), "exported")
	if _, err := Export(loc, out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{entriesFile, hashesFile, indexFile, checkpointFile, metadataFile, filesDir + "/" + eventName(5), filesDir + "/rec.wav", firstKeyFile} {
		a, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(f)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs after export (%v)", f, err)
		}
	}
	mustCheck(t, out, CheckOptions{})
	if _, err := os.Stat(filepath.Join(out, retentionFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the export has %s", retentionFile)
	}
	// An archive can be written to after export.
	w, err := OpenWriter(out, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Ingest(env.writeJSON("later.json", 50), "later.json"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	mustCheck(t, out, CheckOptions{})
}

func TestS3BucketWithoutLock(t *testing.T) {
	srv, _ := newS3Location(t)
	loc := "s3://" + srv.Bucket(t, false) + "/a"
	dir := buildArchive(t, newEnv(t), 1)
	_, err := Import(dir, loc, testRetention)
	if ReasonOf(err) != ReasonInvalidArgument || !strings.Contains(err.Error(), "Object Lock") {
		t.Fatalf("import into a bucket without Object Lock: %v", err)
	}
	if err := CheckBucketLock("s3://no-such-bucket-tlseal/a"); ReasonOf(err) != ReasonNotFound {
		t.Fatalf("a missing bucket: %v", err)
	}
}

func TestS3RetentionMissing(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 4)

	t.Run("noPolicy", func(t *testing.T) {
		_, loc := newS3Location(t)
		uploadRaw(t, dir, loc, nil)
		res := expect(t, loc, CheckOptions{}, CodeRetentionMissing)
		if len(res.Problems) != 1 || res.Problems[0].Name != retentionFile {
			t.Errorf("problems:\n%s", problemCodes(res))
		}
	})
	t.Run("objectWithout", func(t *testing.T) {
		_, loc := newS3Location(t)
		uploadRaw(t, dir, loc, testRetention)
		// Replace nothing (the objects are locked): add the next
		// version of a file without retention, as a writer ignoring the
		// policy would have left it.
		st, _ := openS3(loc)
		data, _ := os.ReadFile(filePath(dir, eventName(2)))
		ctx := context.Background()
		if _, err := st.client.PutObject(ctx, st.loc.Bucket, st.key(filesDir+"/"+eventName(2)), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		res := expect(t, loc, CheckOptions{}, CodeRetentionMissing)
		if len(res.Problems) != 1 || res.Problems[0].Seq != 2 {
			t.Errorf("problems:\n%s", problemCodes(res))
		}
	})
	t.Run("objectsNoEntryReads", func(t *testing.T) {
		// Objects without retention where no entry's check reads: a file
		// no entry lists, the quarantine, the intent record of an entry
		// past the log's end, and one of an entry in the log (not judged:
		// the log supersedes it).
		_, loc := newS3Location(t)
		uploadRaw(t, dir, loc, testRetention)
		st, _ := openS3(loc)
		data := []byte(`{"not":"a seal"}`)
		stray := []string{filesDir + "/stray.json", quarantineDir + "/q.json", pendingDir + "/0000000000000064.abc"}
		for _, name := range append(slices.Clone(stray), pendingDir+"/0000000000000001.old") {
			if _, err := st.client.PutObject(context.Background(), st.loc.Bucket, st.key(name), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		res := expect(t, loc, CheckOptions{}, CodeRetentionMissing, CodeUnlistedFile, CodeQuarantined)
		var flagged []string
		for _, p := range res.Problems {
			if p.Code == CodeRetentionMissing {
				flagged = append(flagged, p.Name)
			}
		}
		slices.Sort(flagged)
		slices.Sort(stray)
		if !slices.Equal(flagged, stray) {
			t.Errorf("retention flagged on %q, want %q:\n%s", flagged, stray, problemCodes(res))
		}
	})
	t.Run("shorter", func(t *testing.T) {
		_, loc := newS3Location(t)
		// The objects are kept one day, the policy says a year.
		uploadRaw(t, dir, loc, testRetention)
		st, _ := openS3(loc)
		ctx := context.Background()
		long := mustRetention("1y", "governance")
		var opts minio.PutObjectOptions
		opts.Mode, opts.RetainUntilDate = long.minioMode(), long.Until(time.Now())
		data := long.marshal()
		if _, err := st.client.PutObject(ctx, st.loc.Bucket, st.key(retentionFile), bytes.NewReader(data), int64(len(data)), opts); err != nil {
			t.Fatal(err)
		}
		res := expect(t, loc, CheckOptions{}, CodeRetentionMissing)
		var files, logs int
		for _, p := range res.Problems {
			if p.Code != CodeRetentionMissing {
				t.Errorf("unexpected %s", p)
			}
			if strings.HasPrefix(p.Name, filesDir+"/") && p.Seq > 0 {
				files++
			}
			if strings.HasPrefix(p.Name, logDir+"/") {
				logs++
			}
		}
		if files != 5 || logs != 3 {
			t.Errorf("%d files and %d log segments flagged:\n%s", files, logs, problemCodes(res))
		}
	})
	t.Run("governanceUnderCompliancePolicy", func(t *testing.T) {
		_, loc := newS3Location(t)
		uploadRaw(t, dir, loc, testRetention)
		st, _ := openS3(loc)
		comp := mustRetention("1d", "compliance")
		data := comp.marshal()
		var opts minio.PutObjectOptions
		opts.Mode, opts.RetainUntilDate = comp.minioMode(), comp.Until(time.Now())
		if _, err := st.client.PutObject(context.Background(), st.loc.Bucket, st.key(retentionFile), bytes.NewReader(data), int64(len(data)), opts); err != nil {
			t.Fatal(err)
		}
		expect(t, loc, CheckOptions{}, CodeRetentionMissing)
	})
}

// An administrator with the governance bypass deletes a sealed file and a
// log segment: the audit catches both.
func TestS3GovernanceDeletionCaught(t *testing.T) {
	srv, loc := newS3Location(t)
	env := newEnv(t)
	dir := buildArchive(t, env, 6)
	if _, err := Import(dir, loc, mustRetention("1d", "governance")); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, loc, CheckOptions{})
	ls, _ := parseS3Location(loc)
	ctx := context.Background()
	remove := func(name string) {
		key := ls.Prefix + "/" + name
		info, err := srv.Client.StatObject(ctx, ls.Bucket, key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Client.RemoveObject(ctx, ls.Bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID}); err == nil {
			t.Fatal("a governance-locked version was deleted without the bypass")
		}
		if err := srv.Client.RemoveObject(ctx, ls.Bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true}); err != nil {
			t.Fatal(err)
		}
	}
	remove(filesDir + "/" + eventName(4))
	res := expect(t, loc, CheckOptions{}, CodeEntryMissingFile)
	if res.Problems[0].Seq != 4 {
		t.Errorf("problem on seq %d", res.Problems[0].Seq)
	}
	remove(segmentName(entriesFile, 0))
	expect(t, loc, CheckOptions{}, CodeTruncated)
}

func TestS3Location(t *testing.T) {
	for _, bad := range []string{"s3://", "s3://ab/x", "s3://Bucket/x", "s3://b_c.d/x", "s3://bucket/a//b", "s3://bucket/../x", "s3://bucket/./x"} {
		if err := CheckLocation(bad); ReasonOf(err) != ReasonInvalidArgument {
			t.Errorf("CheckLocation(%q) = %v", bad, err)
		}
	}
	for _, good := range []string{"s3://bucket", "s3://bucket/", "s3://my.bucket-1/a/b/c"} {
		if err := CheckLocation(good); err != nil {
			t.Errorf("CheckLocation(%q) = %v", good, err)
		}
	}
	for _, c := range []struct{ period, mode string }{{"7y", "compliance"}, {"30d", "GOVERNANCE"}} {
		if _, err := ParseRetention(c.period, c.mode); err != nil {
			t.Errorf("ParseRetention(%q, %q): %v", c.period, c.mode, err)
		}
	}
	for _, c := range []struct{ period, mode string }{{"7", "compliance"}, {"0d", "compliance"}, {"7y", "legal"}, {"-1y", "compliance"}, {"101y", "compliance"}, {"7w", "compliance"}, {"", "compliance"}} {
		if _, err := ParseRetention(c.period, c.mode); ReasonOf(err) != ReasonInvalidArgument {
			t.Errorf("ParseRetention(%q, %q) accepted", c.period, c.mode)
		}
	}
}

// startPrivateS3 starts a server of the test's own (one it may kill) and
// points the process's S3 clients at it for the test.
func startPrivateS3(t *testing.T) *tests3.Server {
	t.Helper()
	srv := tests3.Start(t)
	newS3Location(t) // the shared server's environment is set once; restore it after
	srv.SetenvProcess()
	t.Cleanup(func() { tests3.Shared(t).SetenvProcess() })
	return srv
}
