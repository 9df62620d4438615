package userns

import (
	"os"
	"strconv"
)

// OwnsNamespaces reports whether this process is the one kiln re-executed
// into fresh namespaces for this command, so that its mounts vanish when it
// exits. It is false for a kiln started inside kiln unshare, which shares
// the namespaces of the unshare and whose mounts last as long as they do,
// and for root inside some other namespace (a container).
func OwnsNamespaces() bool {
	return os.Getenv(envOwner) == strconv.Itoa(os.Getpid())
}
