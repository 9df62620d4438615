package userns

import "os"

// enterMountNS gives root what the user namespace gives everyone else: a
// private mount namespace, so that every mount kiln makes dies with it and a
// killed build leaves no mount on the host. Root in some other user
// namespace (a container) continues as it is.
func enterMountNS() (int, bool, error) {
	if _, ok := os.LookupEnv(envMountNS); ok {
		return 0, false, finishChildEnv(envMountNS)
	}
	// Started inside kiln's namespaces (kiln unshare): stay, so that a
	// mount made here (kiln mount) lasts as long as they do.
	if _, ok := os.LookupEnv(envOwner); ok {
		return 0, false, nil
	}
	if m, err := namespaceMode(); err != nil || m != ModeRoot {
		return 0, false, err
	}
	code, err := plan{mode: ModeRoot}.run()
	if err != nil {
		return 0, false, err
	}
	return code, true, nil
}
