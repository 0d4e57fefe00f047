package timeline

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// copyWindow is the unit of copyHashingFile: copied by the kernel, then
// mapped and hashed while the next one is copied. A few MiB keep the
// system calls and mappings few and the mapped (resident) bytes bounded.
const copyWindow = 8 << 20

// fileCopyDisabled turns the kernel copy off (tests of the fallback);
// kernelCopies counts the copies it made (tests that it ran).
var (
	fileCopyDisabled atomic.Bool
	kernelCopies     atomic.Int64
)

// copyHashingFile copies n bytes of src from offset srcOff to dst's current
// offset and into h, for a large file held in two files of this machine:
// the kernel copies the bytes from one page cache to the other
// (copy_file_range), and the hasher reads them from the output's page
// cache through a read-only mapping. Each byte is copied once, not twice
// (into a buffer by read, out of it by write), which on two cores is what
// sealing a large recording costs beyond its SHA-256. The digest is of
// exactly the bytes the output holds.
//
// ok is false when the fast path does not apply (not two files, a small
// file, or a kernel or file system that cannot copy between them): nothing
// was written then, and the caller copies through buffers. On return with
// ok, dst's offset is after the bytes copied; fewer than n bytes copied
// means the source ended early.
func copyHashingFile(dst io.Writer, h hash.Hash, src io.ReaderAt, srcOff, n int64) (copied int64, ok bool, err error) {
	df, dok := dst.(interface {
		Fd() uintptr
		io.Seeker
	})
	sf, sok := src.(*os.File) // a file itself, not a view of one at some offset
	if !dok || !sok || n < 4*bufSize || fileCopyDisabled.Load() {
		return 0, false, nil
	}
	base, err := df.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false, nil
	}
	dfd, sfd := int(df.Fd()), int(sf.Fd())
	// The hasher reads the output back: it must be open for reading.
	if fl, err := unix.FcntlInt(uintptr(dfd), unix.F_GETFL, 0); err != nil || fl&unix.O_ACCMODE != unix.O_RDWR {
		return 0, false, nil
	}
	// The first window decides: a kernel that cannot copy between these
	// two files says so before it has written anything.
	first := min(copyWindow, n)
	c, err := copyRange(sfd, srcOff, dfd, base, first)
	if c == 0 && err != nil && kernelCannotCopy(err) {
		return 0, false, nil
	}
	copied = c
	if err != nil {
		return copied, true, newError(ReasonIO, err, "copying")
	}
	kernelCopies.Add(1)

	wb := startWriteback(dst)
	wb.wrote(base + copied)
	ready := make(chan [2]int64, 4) // windows copied: offset in dst, length
	var herr error
	var failed atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for w := range ready {
			if herr == nil {
				if herr = hashFileRange(h, dfd, w[0], w[1]); herr != nil {
					failed.Store(true)
				}
			}
		}
	}()
	ready <- [2]int64{base, copied}
	for copied < n && c == first && !failed.Load() {
		want := min(copyWindow, n-copied)
		c, err = copyRange(sfd, srcOff+copied, dfd, base+copied, want)
		if c > 0 {
			ready <- [2]int64{base + copied, c}
			copied += c
			wb.wrote(base + copied)
		}
		if err != nil {
			err = newError(ReasonIO, err, "copying")
			break
		}
		first = want // a short window: the source ended
	}
	close(ready)
	wg.Wait()
	if herr != nil {
		return copied, true, herr
	}
	if err != nil {
		return copied, true, err
	}
	if _, err := df.Seek(base+copied, io.SeekStart); err != nil {
		return copied, true, newError(ReasonIO, err, "seeking")
	}
	return copied, true, nil
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
// without it), after which copying through buffers works.
func kernelCannotCopy(err error) bool {
	for _, e := range []error{unix.EXDEV, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EBADF, unix.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// mappedFile returns the descriptor of r when n bytes of it are worth
// hashing through mappings: r is a file of this machine and n is large.
func mappedFile(r io.ReaderAt, n int64) (int, bool) {
	f, ok := r.(*os.File) // a file itself, not a view of one at some offset
	if !ok || n < 4*bufSize || fileCopyDisabled.Load() {
		return 0, false
	}
	return int(f.Fd()), true
}

// hashMapped hashes n bytes of the file fd from off, window by window
// through read-only mappings, and returns the bytes hashed: fewer when the
// file is shorter (the digest then differs, as with a read that ends
// early). Reading a sealed recording to verify it costs its SHA-256 and
// no copy into a buffer.
func hashMapped(h hash.Hash, fd int, off, n int64) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	n = max(0, min(n, st.Size-off))
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
			err = newError(ReasonIO, fmt.Errorf("%v", r), "the file was cut short while it was hashed")
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
