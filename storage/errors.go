package storage

import (
	"fmt"
	"io/fs"
)

// NotFoundError says the store holds no such image or layer. It matches
// fs.ErrNotExist, so callers need not know this type.
type NotFoundError struct {
	What, Name string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q not found in the store", e.What, e.Name)
}

// Is makes errors.Is(err, fs.ErrNotExist) hold.
func (e *NotFoundError) Is(target error) bool { return target == fs.ErrNotExist }
