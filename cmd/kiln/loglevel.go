package main

import (
	"fmt"

	"github.com/sirupsen/logrus"
)

// setLogLevel quiets the libraries' logging (containers/image and
// containers/storage log through logrus) to the --log-level the user chose.
func setLogLevel(level string) error {
	l, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	logrus.SetLevel(l)
	return nil
}
