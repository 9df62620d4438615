// Package storage is kiln's only door to containers/storage and
// containers/image: it opens the image store that podman and buildah share,
// moves images between transports, and turns layer diffs and configs into
// stored images.
//
// Everything above this package speaks in kiln's own terms (Image, Config,
// layer ids, tar streams); the libraries' types stay inside.
package storage
