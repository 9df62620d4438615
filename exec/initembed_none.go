//go:build kilninit

package exec

func embeddedInit() []byte { return nil }
