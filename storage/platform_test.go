package storage

import "testing"

func TestParsePlatform(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"linux/amd64", "linux/amd64"}, {"linux/x86_64", "linux/amd64"}, {"linux/aarch64", "linux/arm64"},
		{"linux/arm64/v8", "linux/arm64"}, {"linux/arm", "linux/arm/v7"}, {"Linux/ARM64", "linux/arm64"},
		{"linux/arm/v6", "linux/arm/v6"}, {"linux", ""}, {"linux/", ""}, {"a/b/c/d", ""},
	}
	for _, c := range cases {
		p, err := ParsePlatform(c.in)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("ParsePlatform(%q) = %s, want an error", c.in, p)
		case c.want != "" && (err != nil || p.String() != c.want):
			t.Errorf("ParsePlatform(%q) = %s, %v; want %s", c.in, p, err, c.want)
		}
	}
}

func TestPlatformMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		want, have Platform
		ok         bool
	}{
		{Platform{"linux", "arm64", ""}, Platform{"linux", "arm64", "v8"}, true},
		{Platform{"linux", "arm", "v7"}, Platform{"linux", "arm", "v6"}, false},
		{Platform{"linux", "amd64", ""}, Platform{"linux", "x86_64", ""}, true},
		{Platform{"linux", "amd64", ""}, Platform{"windows", "amd64", ""}, false},
		{Platform{"linux", "s390x", ""}, Platform{"linux", "arm64", ""}, false},
	}
	for _, c := range cases {
		if got := c.want.Matches(c.have); got != c.ok {
			t.Errorf("%s matches %s: %v, want %v", c.want, c.have, got, c.ok)
		}
	}
	err := &PlatformError{Name: "base", Want: Platform{"linux", "s390x", ""}, Have: []Platform{{"linux", "amd64", ""}, {"linux", "arm64", ""}}}
	if got := err.Error(); got != "image base has no linux/s390x image; it offers linux/amd64, linux/arm64" {
		t.Errorf("PlatformError: %q", got)
	}
}
