package timeline

import (
	"hash"
	"io"
	"sync"
)

// bufSize is the read size of every streaming pass: large enough that
// system calls and per-call overheads vanish next to the bytes.
const bufSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// getBuf returns a read buffer for a file of size bytes and its release
// function. Small files get a small buffer of their own: allocating and
// zeroing a megabyte for a 2 KiB event file was the main cost of verifying
// many small files.
func getBuf(size int64) ([]byte, func()) {
	if size < bufSize {
		return make([]byte, max(4096, size)), func() {}
	}
	p := bufPool.Get().(*[]byte)
	return *p, func() { bufPool.Put(p) }
}

// writebackEvery is how often copyHashing asks the kernel to start writing
// the output to disk, so that the final fsync has little left to do.
const writebackEvery = 16 << 20

// copyHashing copies src to dst and into h, reading once, and returns the
// number of bytes copied. Hashing runs on its own goroutine, overlapping
// with the reads and writes: sealing a large recording costs about the
// larger of the two, not their sum.
func copyHashing(dst io.Writer, h hash.Hash, src io.Reader, size int64) (int64, error) {
	if size < 4*bufSize {
		buf, release := getBuf(size)
		defer release()
		return copyHashingSerial(dst, h, src, buf)
	}
	// nbuf buffers rotate. The hasher takes them in order and hands back a
	// slot after each; taking a slot before reusing buffer i%nbuf therefore
	// waits until the hasher is done with the buffer's previous use (this
	// goroutine's own write of it returned long before).
	const nbuf = 4
	bufs := make([]*[]byte, nbuf)
	for i := range bufs {
		bufs[i] = bufPool.Get().(*[]byte)
	}
	defer func() {
		for _, b := range bufs {
			bufPool.Put(b)
		}
	}()
	slots := make(chan struct{}, nbuf)
	for range nbuf {
		slots <- struct{}{}
	}
	toHash := make(chan []byte, nbuf)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range toHash {
			h.Write(b)
			slots <- struct{}{}
		}
	}()
	wb := startWriteback(dst)
	var total int64
	var err error
	for i := 0; ; i++ {
		<-slots
		b := *bufs[i%nbuf]
		n, rerr := src.Read(b)
		if n > 0 {
			toHash <- b[:n]
			if _, werr := dst.Write(b[:n]); werr != nil {
				err = newError(ReasonIO, werr, "writing")
				break
			}
			total += int64(n)
			wb.wrote(total)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = newError(ReasonIO, rerr, "reading")
			break
		}
	}
	close(toHash)
	<-hashed
	return total, err
}

func copyHashingSerial(dst io.Writer, h hash.Hash, src io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			total += int64(n)
			h.Write(buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total, newError(ReasonIO, werr, "writing")
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, newError(ReasonIO, err, "reading")
		}
	}
}
