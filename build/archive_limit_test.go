package build

import (
	"errors"
	"io"
	"testing"
)

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestExpansionLimit(t *testing.T) {
	t.Parallel()
	const out = freeExpansion + 64<<20
	for _, tc := range []struct {
		name    string
		in      int64 // compressed bytes read
		wantErr bool
	}{
		{"bomb", 1 << 20, true},             // > 1000x
		{"big but honest", out / 50, false}, // 50x
		{"just over the ratio", out/maxExpansion - 1<<20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := &countingReader{r: zeros{}, n: tc.in}
			l := &expansionLimit{r: io.LimitReader(zeros{}, out), in: in, name: "x.tar.gz"}
			n, err := io.Copy(io.Discard, l)
			if err == nil && n != out {
				t.Fatalf("read %d bytes, want %d", n, int64(out))
			}
			if got := errors.Is(err, errArchiveBomb); got != tc.wantErr {
				t.Fatalf("expanding %d bytes from %d: err %v, want the limit error %v", int64(out), tc.in, err, tc.wantErr)
			}
		})
	}
}
