package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

// Kinds of kiln container.
const (
	// KindWorking is a working container made by kiln from, changed by kiln
	// run, copy and config and turned into an image by kiln commit.
	KindWorking = "working"
	// KindRun is a container made by kiln run IMAGE.
	KindRun = "run"
)

// containerKey names the big-data item that marks a store container as
// kiln's and holds its record.
const containerKey = "kiln-container.json"

// Container is a kiln container: a writable layer on an image (or on
// nothing), with the image config it runs and commits with.
type Container struct {
	ID      string    `json:"-"`
	Name    string    `json:"-"`
	LayerID string    `json:"-"`
	Created time.Time `json:"-"`
	// Kind is KindWorking or KindRun.
	Kind string `json:"kind"`
	// FromImage is the image name the container was made from ("scratch"
	// for none) and FromImageID its id.
	FromImage   string `json:"fromImage"`
	FromImageID string `json:"fromImageID,omitempty"`
	// BaseLayer is the image's top layer, the parent of LayerID ("" for
	// scratch).
	BaseLayer string `json:"baseLayer,omitempty"`
	// Config is what kiln run uses and kiln commit writes.
	Config *Image `json:"config"`
}

// ContainerOptions describe a container for CreateContainer.
type ContainerOptions struct {
	// Name is the container's name; "" picks IMAGE-working-container (with a
	// number when taken) for working containers, IMAGE-XXXXXX for others.
	Name string
	Kind string
	// Image is the image to start from; nil starts from scratch.
	Image *ImageRecord
	// ImageName is the name the user gave for Image.
	ImageName string
	// Config is the starting config: Image's, or an empty one for scratch.
	Config *Image
}

// CreateContainer makes a container with a fresh writable layer on
// opts.Image and records it as kiln's.
func (st *Store) CreateContainer(ctx context.Context, opts ContainerOptions) (*Container, error) {
	c := &Container{Kind: opts.Kind, FromImage: "scratch", Config: opts.Config}
	image := ""
	if opts.Image != nil {
		image, c.FromImage, c.FromImageID, c.BaseLayer = opts.Image.ID, opts.ImageName, opts.Image.ID, opts.Image.TopLayer
	}
	if c.Config == nil {
		c.Config = &Image{OS: "linux", Architecture: runtime.GOARCH, RootFS: RootFS{Type: "layers"}}
	}
	if opts.Name != "" {
		if _, err := st.s.Container(opts.Name); err == nil {
			return nil, fmt.Errorf("creating container %q: the name is already in use: %w", opts.Name, fs.ErrExist)
		}
		return st.createNamed(c, opts.Name, image)
	}
	// Another kiln may take the free name between choosing and creating:
	// a generated name is then chosen again.
	for attempt := 0; ; attempt++ {
		name, err := st.freeName(c)
		if err != nil {
			return nil, err
		}
		created, err := st.createNamed(c, name, image)
		if err == nil || !errors.Is(err, fs.ErrExist) || attempt == 20 {
			return created, err
		}
	}
}

// createNamed creates the store container of c under name.
func (st *Store) createNamed(c *Container, name, image string) (*Container, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding container %s: %w", name, err)
	}
	sc, err := st.s.CreateContainer("", []string{name}, image, "", "", &cstorage.ContainerOptions{
		BigData: []cstorage.ContainerBigDataOption{{Key: containerKey, Data: data}}})
	if err != nil {
		if errors.Is(err, cstorage.ErrDuplicateName) {
			return nil, fmt.Errorf("creating container %q: the name is already in use: %w", name, fs.ErrExist)
		}
		return nil, fmt.Errorf("creating container %s from %s: %w", name, c.FromImage, err)
	}
	c.ID, c.Name, c.LayerID, c.Created = sc.ID, name, sc.LayerID, sc.Created
	return c, nil
}

// freeName picks a name nobody uses: buildah's IMAGE-working-container[-N]
// for working containers, IMAGE-N for run containers.
func (st *Store) freeName(c *Container) (string, error) {
	base := path.Base(c.FromImage)
	base, _, _ = strings.Cut(base, "@")
	base, _, _ = strings.Cut(base, ":")
	if base == "" || base == "." {
		base = "scratch"
	}
	suffix := ""
	if c.Kind == KindWorking {
		suffix = "-working-container"
	}
	for i := 0; i < 10000; i++ {
		name := base + suffix
		if i > 0 || c.Kind != KindWorking {
			name += "-" + strconv.Itoa(i+1)
		}
		if _, err := st.s.Container(name); errors.Is(err, cstorage.ErrContainerUnknown) {
			return name, nil
		}
	}
	return "", fmt.Errorf("finding a free container name for %s: %w", base, fs.ErrExist)
}

// LookupContainer finds a kiln container by name, id or id prefix.
func (st *Store) LookupContainer(name string) (*Container, error) {
	if name == "" {
		return nil, fmt.Errorf("empty container name: %w", fs.ErrInvalid)
	}
	sc, err := st.s.Container(name)
	if err != nil {
		if errors.Is(err, cstorage.ErrContainerUnknown) {
			return nil, &NotFoundError{What: "container", Name: name}
		}
		return nil, fmt.Errorf("looking up container %q: %w", name, err)
	}
	c, err := st.containerRecord(sc)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("container %q was not made by kiln: %w", name, fs.ErrNotExist)
	}
	return c, nil
}

// containerRecord reads kiln's record of sc, nil when sc is not kiln's.
func (st *Store) containerRecord(sc *cstorage.Container) (*Container, error) {
	data, err := st.s.ContainerBigData(sc.ID, containerKey)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, cstorage.ErrContainerUnknown) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading container %s: %w", shortID(sc.ID), err)
	}
	var c Container
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parsing container %s: %w", shortID(sc.ID), err)
	}
	if c.Config == nil {
		c.Config = &Image{OS: "linux", Architecture: runtime.GOARCH}
	}
	c.ID, c.LayerID, c.Created = sc.ID, sc.LayerID, sc.Created
	if len(sc.Names) > 0 {
		c.Name = sc.Names[0]
	}
	return &c, nil
}

// Containers lists kiln's containers, oldest first.
func (st *Store) Containers() ([]*Container, error) {
	all, err := st.s.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []*Container
	for i := range all {
		c, err := st.containerRecord(&all[i])
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// SaveContainer writes c's record (its config) back to the store.
func (st *Store) SaveContainer(c *Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding container %s: %w", c.Name, err)
	}
	if err := st.s.SetContainerBigData(c.ID, containerKey, data); err != nil {
		return fmt.Errorf("saving container %s: %w", c.Name, err)
	}
	return nil
}

// DeleteContainer removes c and its writable layer.
func (st *Store) DeleteContainer(c *Container) error {
	// A mount made by a kiln process that is gone left a count behind.
	if _, err := st.s.Unmount(c.ID, true); err != nil && !errors.Is(err, cstorage.ErrLayerUnknown) &&
		!errors.Is(err, cstorage.ErrLayerNotMounted) {
		return fmt.Errorf("unmounting container %s: %w", c.Name, err)
	}
	if err := st.s.DeleteContainer(c.ID); err != nil {
		return fmt.Errorf("removing container %s: %w", c.Name, err)
	}
	if err := os.Remove(st.mountPoint(c)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the mount point of container %s: %w", c.Name, err)
	}
	return nil
}

// MountContainer mounts c's root through the store and returns it. Use it
// only where CanMountWork holds; UnmountContainer undoes it.
func (st *Store) MountContainer(c *Container) (string, error) {
	p, err := st.s.Mount(c.ID, "")
	if err != nil {
		return "", fmt.Errorf("mounting container %s: %w", c.Name, err)
	}
	return p, nil
}

// UnmountContainer undoes MountContainer.
func (st *Store) UnmountContainer(c *Container) error {
	if _, err := st.s.Unmount(c.ID, false); err != nil && !errors.Is(err, cstorage.ErrLayerNotMounted) {
		return fmt.Errorf("unmounting container %s: %w", c.Name, err)
	}
	return nil
}

// ContainerDirs are the directories of an overlay container layer, for
// mounting it with kernel overlay.
type ContainerDirs struct {
	// Lower are the image's layer directories, topmost first; none for a
	// container from scratch.
	Lower []string
	// Upper and Work are the container layer's own; Merged is the mount
	// point.
	Upper, Work, Merged string
}

// OverlayDirs returns the directories of c's layer when kiln mounts it with
// kernel overlay itself: with the overlay driver, unless the store uses a
// mount program (fuse-overlayfs) that works here. Mounting in the caller,
// not through the store, keeps no mount count in the store's records, which
// would outlive kiln's private mount namespace. Otherwise it fails with an
// error wrapping errors.ErrUnsupported, and MountContainer is the way.
func (st *Store) OverlayDirs(c *Container) (*ContainerDirs, error) {
	if st.Driver() != "overlay" || (st.hasMountProgram() && st.CanMountWork()) {
		return nil, fmt.Errorf("mounting container %s with kernel overlay: driver %s: %w", c.Name, st.Driver(), errors.ErrUnsupported)
	}
	drv, err := st.s.GraphDriver()
	if err != nil {
		return nil, fmt.Errorf("opening storage driver: %w", err)
	}
	md, err := drv.Metadata(c.LayerID)
	if err != nil || md["UpperDir"] == "" || md["WorkDir"] == "" {
		return nil, fmt.Errorf("finding the directories of container %s: %w", c.Name, errors.Join(err, errors.ErrUnsupported))
	}
	// Not the driver's own merged directory: the driver detaches its home
	// directory, and every mount below it, when the store is closed.
	d := &ContainerDirs{Upper: md["UpperDir"], Work: md["WorkDir"], Merged: st.mountPoint(c)}
	if c.BaseLayer != "" {
		if d.Lower, err = st.LayerDirs(c.BaseLayer); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// mountPoint is where kiln mounts c's root itself.
func (st *Store) mountPoint(c *Container) string {
	return filepath.Join(st.GraphRoot(), "kiln-mounts", c.ID)
}

// ContainerDiff streams the changes of c's layer against its image as an
// uncompressed tar, through the store's driver.
func (st *Store) ContainerDiff(c *Container) (io.ReadCloser, error) {
	unc := archive.Uncompressed
	rc, err := st.s.Diff("", c.LayerID, &cstorage.DiffOptions{Compression: &unc})
	if err != nil {
		return nil, fmt.Errorf("computing changes of container %s: %w", c.Name, err)
	}
	return rc, nil
}

// Squash stores the merged filesystem of top and its parents as one base
// layer.
func (st *Store) Squash(ctx context.Context, top string) (*Layer, error) {
	chain, err := st.LayerChain(top)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(st.flatten(ctx, chain, pw)) }()
	l, err := st.PutLayer(ctx, "", pr)
	pr.CloseWithError(errors.New("layer store stopped reading"))
	if err != nil {
		return nil, fmt.Errorf("squashing layers of %s: %w", shortID(top), err)
	}
	return l, nil
}

// DeleteLayer removes a stored layer nothing uses, such as one replaced by
// Squash.
func (st *Store) DeleteLayer(id string) error { return st.deleteLayer(id) }

// ContainerRunDir is where the run state of container id lives: under the
// store's run root, so it survives the command that made it but not a
// reboot.
func (st *Store) ContainerRunDir(id string) string {
	return filepath.Join(st.RunRoot(), "kiln-containers", id)
}

// EnsureContainerRunDir creates ContainerRunDir(id).
func (st *Store) EnsureContainerRunDir(id string) (string, error) {
	dir := st.ContainerRunDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating run directory of container %s: %w", shortID(id), err)
	}
	return dir, nil
}
