package timeline

import (
	"hash"
	"io"
	"sync"
	"sync/atomic"
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
// number of bytes copied. A large file is read on this goroutine into a
// few rotating buffers, each handed to a hasher and to a writer goroutine:
// on two cores hashing takes one and reading, writing and the kernel's
// writeback the other, so sealing costs about the larger of the two, not
// their sum. (With the writes on the reading goroutine, a write or a
// writeback that blocked stopped the reads too, and the hasher ran dry.)
// The bytes hashed are the bytes written: both come from the one read.
func copyHashing(dst io.Writer, h hash.Hash, src io.Reader, size int64) (int64, error) {
	if size < 4*bufSize {
		buf, release := getBuf(size)
		defer release()
		return copyHashingSerial(dst, h, src, buf)
	}
	// A buffer goes back to free once both the hasher and the writer are
	// done with it (refs counts them down); nbuf bounds the memory.
	const nbuf = 6
	type chunk struct {
		buf  *[]byte
		n    int
		refs atomic.Int32
	}
	free := make(chan *[]byte, nbuf)
	for range nbuf {
		free <- bufPool.Get().(*[]byte)
	}
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c.buf
		}
	}
	toHash := make(chan *chunk, nbuf)
	toWrite := make(chan *chunk, nbuf)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for c := range toHash {
			h.Write((*c.buf)[:c.n])
			release(c)
		}
	}()
	var werr error
	var failed atomic.Bool
	go func() {
		defer wg.Done()
		wb := startWriteback(dst)
		var written int64
		for c := range toWrite {
			// After a failed write the rest is only released: the reader
			// stops at its next buffer.
			if werr == nil {
				if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
					werr = newError(ReasonIO, err, "writing")
					failed.Store(true)
				} else {
					written += int64(c.n)
					wb.wrote(written)
				}
			}
			release(c)
		}
	}()
	var total int64
	var err error
	for !failed.Load() {
		b := <-free
		n, rerr := src.Read(*b)
		if n > 0 {
			c := &chunk{buf: b, n: n}
			c.refs.Store(2)
			toHash <- c
			toWrite <- c
			total += int64(n)
		} else {
			free <- b
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
	close(toWrite)
	wg.Wait()
	// Every chunk has been released by both: all nbuf buffers are in free.
	for range nbuf {
		bufPool.Put(<-free)
	}
	if werr != nil {
		return total, werr
	}
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
