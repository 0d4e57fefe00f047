package timeline

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tlseal/tlseal/internal/atomicfile"
)

// copyWindow is the unit of the kernel copy and of the mapped hashing: a
// few MiB keep the system calls and mappings few and the mapped (resident)
// bytes bounded.
const copyWindow = 8 << 20

// fileCopyDisabled turns both fast paths off: the kernel copy of sealing
// and the mapped hashing of verifying (tests of the fallbacks).
// kernelCopies and mappedHashes count their uses (tests that they ran).
var (
	fileCopyDisabled atomic.Bool
	kernelCopies     atomic.Int64
	mappedHashes     atomic.Int64
	// afterCopyWindow, when set, runs after each window the kernel copied
	// (tests: a copy that went wrong).
	afterCopyWindow func(dfd int, off, n int64)
)

// copyHashingFile copies n bytes of src from offset srcOff to dst's current
// offset and into h, for a large file held in two files of this machine:
// the kernel copies the bytes from one page cache to the other
// (copy_file_range) while the hasher reads the original's page cache
// through read-only mappings. Each byte is copied once, not twice (into a
// buffer by read, out of it by write), which on two cores is what sealing
// a large recording costs beyond its SHA-256.
//
// The digest is of the original's bytes, as the seal says, never of the
// output's: a copy the kernel or file system got wrong (it has happened:
// block cloning that wrote zeros) then fails verification instead of being
// sealed as if it were the original. A source that changes while it is
// copied can make the two differ the same way; SealFile also refuses a
// source whose size or mtime changed.
//
// ok is false when the fast path does not apply (not two plain files, a
// small or not regular source, a kernel before 5.3, or a kernel or file
// system that cannot copy between them, which the first window shows
// before anything is hashed or kept): the caller then copies through
// buffers. With ok and no error, dst's offset is after the bytes copied;
// fewer than n bytes copied means the source ended early.
func copyHashingFile(dst io.Writer, h hash.Hash, src io.ReaderAt, srcOff, n int64) (copied int64, ok bool, err error) {
	var df *os.File
	switch d := dst.(type) {
	case *os.File:
		df = d
	case *atomicfile.File:
		df = d.File
	}
	sf, sok := src.(*os.File) // a file itself, not a view of one at some offset
	if df == nil || !sok || n < 4*bufSize || fileCopyDisabled.Load() || !kernelCopiesFiles() {
		return 0, false, nil
	}
	defer runtime.KeepAlive(sf)
	defer runtime.KeepAlive(df)
	sfd, dfd := int(sf.Fd()), int(df.Fd())
	size, ok := regularSize(sfd)
	if !ok {
		return 0, false, nil
	}
	base, err := df.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false, nil
	}
	// The first window decides: a kernel that cannot copy between these
	// two files says so (or copies nothing) before anything is kept.
	first := min(copyWindow, n)
	c, err := copyRange(sfd, srcOff, dfd, base, first)
	if c == 0 && (err == nil || kernelCannotCopy(err)) {
		return 0, false, nil
	}
	if afterCopyWindow != nil {
		afterCopyWindow(dfd, base, c)
	}
	if err != nil {
		return c, true, newError(ReasonIO, err, "copying")
	}
	kernelCopies.Add(1)

	var hashed int64
	var herr error
	var failed atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		hashed, herr = hashMapped(h, sfd, size, srcOff, n)
		if herr != nil {
			failed.Store(true)
		}
	}()
	wb := startWriteback(df)
	copied = c
	wb.wrote(base + copied)
	for copied < n && c == first && !failed.Load() {
		first = min(copyWindow, n-copied)
		c, err = copyRange(sfd, srcOff+copied, dfd, base+copied, first)
		if afterCopyWindow != nil && c > 0 {
			afterCopyWindow(dfd, base+copied, c)
		}
		copied += c
		wb.wrote(base + copied)
		if err != nil {
			err = newError(ReasonIO, err, "copying")
			break
		}
	}
	<-done
	switch {
	case herr != nil:
		return copied, true, herr
	case err != nil:
		return copied, true, err
	case hashed != copied:
		return copied, true, newError(ReasonIO, nil, "the file changed while it was sealed (%d bytes hashed, %d copied)", hashed, copied)
	}
	if _, err := df.Seek(base+copied, io.SeekStart); err != nil {
		return copied, true, newError(ReasonIO, err, "seeking")
	}
	return copied, true, nil
}

// kernelCopiesFiles reports whether this kernel's copy_file_range is one
// to rely on: from Linux 5.3 on, as the Go runtime's own use of it (before,
// it failed in ways that look like success on several file systems).
var kernelCopiesFiles = sync.OnceValue(func() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 5 || major == 5 && minor >= 3
})

// regularSize is the size of the file fd when it is a regular file.
func regularSize(fd int) (int64, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, false
	}
	return st.Size, true
}

// copyRange copies up to n bytes of the file sfd at soff to dfd at doff in
// the kernel; fewer only at the source's end (or with an error).
func copyRange(sfd int, soff int64, dfd int, doff int64, n int64) (int64, error) {
	var done int64
	for done < n {
		roff, woff := soff+done, doff+done
		c, err := unix.CopyFileRange(sfd, &roff, dfd, &woff, int(n-done), 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return done, err
		}
		if c == 0 {
			break // end of the source
		}
		done += int64(c)
	}
	return done, nil
}

// kernelCannotCopy tells the errors of copy_file_range that mean "not
// between these files" (another file system, an old kernel, a file system
// without it, a seccomp filter; EIO from CIFS), after which copying through
// buffers works. Only an error on the first window, with nothing copied,
// is taken so.
func kernelCannotCopy(err error) bool {
	for _, e := range []error{unix.EXDEV, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EBADF, unix.EPERM, unix.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// mappedFile returns the descriptor and size of r when n bytes of it are
// worth hashing through mappings: r is a regular file of this machine (a
// file itself, not a view of one at some offset) and n is large.
func mappedFile(r io.ReaderAt, n int64) (fd int, size int64, ok bool) {
	f, isFile := r.(*os.File)
	if !isFile || n < 4*bufSize || fileCopyDisabled.Load() {
		return 0, 0, false
	}
	fd = int(f.Fd())
	size, ok = regularSize(fd)
	return fd, size, ok
}

// hashMapped hashes n bytes from off of the regular file fd, size bytes
// long, window by window through read-only mappings, and returns the bytes
// hashed: fewer when the file is shorter (the digest then differs, as with
// a read that ends early). Reading a recording this way costs its SHA-256
// and no copy into a buffer.
func hashMapped(h hash.Hash, fd int, size, off, n int64) (int64, error) {
	mappedHashes.Add(1)
	n = max(0, min(n, size-off))
	for done := int64(0); done < n; {
		w := min(copyWindow, n-done)
		if err := hashFileRange(h, fd, off+done, w); err != nil {
			return done, err
		}
		done += w
	}
	return n, nil
}

// hashFileRange hashes n bytes of the file fd at off through a read-only
// mapping (pread into a buffer where the file cannot be mapped). A file
// truncated under the mapping faults: that is returned as an error, not a
// crash.
func hashFileRange(h hash.Hash, fd int, off, n int64) (err error) {
	page := int64(os.Getpagesize())
	start := off &^ (page - 1)
	data, merr := unix.Mmap(fd, start, int(off+n-start), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if merr != nil {
		return hashFileRangeRead(h, fd, off, n)
	}
	defer unix.Munmap(data)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = newError(ReasonIO, fmt.Errorf("%v", r), "a fault reading the mapped file (was it cut short while it was hashed?)")
		}
	}()
	h.Write(data[off-start:])
	return nil
}

func hashFileRangeRead(h hash.Hash, fd int, off, n int64) error {
	buf, release := getBuf(bufSize)
	defer release()
	for n > 0 {
		c, err := unix.Pread(fd, buf[:min(int64(len(buf)), n)], off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return newError(ReasonIO, err, "reading")
		}
		if c == 0 {
			return newError(ReasonIO, io.ErrUnexpectedEOF, "the file was cut short while it was hashed")
		}
		h.Write(buf[:c])
		off += int64(c)
		n -= int64(c)
	}
	return nil
}
