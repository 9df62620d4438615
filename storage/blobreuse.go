package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/memory"
	"go.podman.io/image/v5/types"
)

// errSubstituted is what a source whose layers were presented as blobs of
// the destination says when copy.Image asks it for one of them after all:
// the registry no longer had the blob. The push is then made again without
// substitutions.
var errSubstituted = errors.New("layer was presented as a blob the registry has")

// reuseChecks is how many blobs planReuse asks the registry about at once.
const reuseChecks = 6

// planReuse finds the layers of src (and its config) that the docker://
// destination dst already has, or can mount from another repository of
// the same registry, according to the blob record. It asks the registry:
// a HEAD in dst's repository, else a cross-repository mount, so that every
// blob it returns is in dst's repository when it returns. The result maps
// layer diff ids to the blob to present instead. Any failure only means
// fewer reused blobs, so none is returned.
func (st *Store) planReuse(ctx context.Context, src, dst types.ImageReference, o CopyOptions, compression string) map[digest.Digest]types.BlobInfo {
	named := dst.DockerReference()
	if dst.Transport().Name() != docker.Transport.Name() || named == nil || compression == "zstd:chunked" {
		return nil
	}
	if _, digested := named.(reference.Digested); digested {
		return nil // copy.Image may not change the manifest of a digested destination
	}
	if compression == "" {
		compression = "gzip"
	}
	host, repo := reference.Domain(named), reference.Path(named)
	known := st.blobRecord().lookup(host)
	if len(known) == 0 {
		return nil
	}
	checks, err := reuseCandidates(ctx, src, o, compression, known)
	if err != nil || len(checks) == 0 {
		if err != nil {
			logrus.Debugf("Not reusing registry blobs for %s: %v", named, err)
		}
		return nil
	}
	destSys := o.DestSys
	if destSys == nil {
		destSys = o.Sys
	}
	dest, err := dst.NewImageDestination(ctx, destSys)
	if err != nil {
		logrus.Debugf("Not reusing registry blobs for %s: opening destination: %v", named, err)
		return nil
	}
	defer dest.Close()
	var (
		mu    sync.Mutex
		subst = map[digest.Digest]types.BlobInfo{}
		stale []blobEntry
		wg    sync.WaitGroup
		sem   = make(chan struct{}, reuseChecks)
	)
	for _, c := range checks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			info, ok, missing := tryReuse(ctx, dest, dst, host, repo, c)
			mu.Lock()
			defer mu.Unlock()
			stale = append(stale, missing...)
			if ok && c.mediaType != "" {
				subst[c.diffID] = info
			}
		})
	}
	wg.Wait()
	if err := st.blobRecord().update(nil, stale); err != nil {
		logrus.Debugf("Updating the blob record: %v", err)
	}
	return subst
}

// reuseCheck is a layer (or the config) of the image to push and the blobs
// the record knows for it on the destination's registry.
type reuseCheck struct {
	diffID    digest.Digest
	mediaType string // what the layer is presented as when reused
	known     []blobEntry
}

// reuseCandidates lists the layers and config of src that have recorded
// blobs in the wanted compression.
func reuseCandidates(ctx context.Context, src types.ImageReference, o CopyOptions, compression string, known map[digest.Digest][]blobEntry) ([]reuseCheck, error) {
	s, err := src.NewImageSource(ctx, o.Sys)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", src.StringWithinTransport(), err)
	}
	defer s.Close()
	if sigs, err := s.GetSignatures(ctx, nil); err != nil || len(sigs) > 0 && !o.RemoveSignatures {
		return nil, nil // copy.Image may not change the manifest of a signed image
	}
	infos, err := s.LayerInfosForCopy(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("listing layers of %s: %w", src.StringWithinTransport(), err)
	}
	var out []reuseCheck
	for _, in := range infos {
		mt := compressedLayerType(in.MediaType, compression, o.ManifestType)
		if mt == "" {
			continue
		}
		c := reuseCheck{diffID: in.Digest, mediaType: mt}
		for _, e := range known[in.Digest] {
			if blobCompression(e.MediaType) == compression && e.Digest != e.DiffID {
				c.known = append(c.known, e)
			}
		}
		if len(c.known) > 0 {
			out = append(out, c)
		}
	}
	// The config: containers/image checks for it with a HEAD before
	// uploading, so a config mounted here is not sent either.
	if man, mt, err := s.GetManifest(ctx, nil); err == nil && !manifest.MIMETypeIsMultiImage(mt) {
		if m, err := manifest.FromBlob(man, mt); err == nil && len(known[m.ConfigInfo().Digest]) > 0 {
			out = append(out, reuseCheck{diffID: m.ConfigInfo().Digest, known: known[m.ConfigInfo().Digest]})
		}
	}
	return out, nil
}

// compressedLayerType is the media type a layer of media type mt is
// presented as when a blob in compression replaces it, or "" when mt is
// not an uncompressed layer or the manifest format cannot hold the blob.
func compressedLayerType(mt, compression, forcedManifest string) string {
	switch {
	case mt == v1.MediaTypeImageLayer && compression == "gzip":
		return v1.MediaTypeImageLayerGzip
	case mt == v1.MediaTypeImageLayer && compression == "zstd" && forcedManifest != manifest.DockerV2Schema2MediaType:
		return v1.MediaTypeImageLayerZstd
	case mt == manifest.DockerV2SchemaLayerMediaTypeUncompressed && compression == "gzip":
		return manifest.DockerV2Schema2LayerMediaType
	}
	return ""
}

// blobCompression is the compression a layer media type names.
func blobCompression(mt string) string {
	switch mt {
	case v1.MediaTypeImageLayerGzip, manifest.DockerV2Schema2LayerMediaType:
		return "gzip"
	case v1.MediaTypeImageLayerZstd:
		return "zstd"
	}
	return ""
}

// tryReuse asks the destination for each blob recorded for c, the dst
// repository's copy first: a HEAD there, else a mount from a repository
// the record names. It returns the blob to present, whether one was found,
// and the entries for dst's repository that turned out to be wrong.
func tryReuse(ctx context.Context, dest types.ImageDestination, dst types.ImageReference, host, repo string, c reuseCheck) (types.BlobInfo, bool, []blobEntry) {
	byDigest := map[digest.Digest][]blobEntry{}
	var order []digest.Digest
	for _, e := range c.known {
		if _, ok := byDigest[e.Digest]; !ok {
			order = append(order, e.Digest)
		}
		byDigest[e.Digest] = append(byDigest[e.Digest], e)
	}
	var stale []blobEntry
	for _, d := range order {
		entries := byDigest[d]
		cache := memory.New()
		for _, e := range entries {
			cache.RecordKnownLocation(dst.Transport(), types.BICTransportScope{Opaque: host},
				d, types.BICLocationReference{Opaque: host + "/" + e.Repo})
		}
		compressor := blobCompression(entries[0].MediaType)
		if c.mediaType == "" {
			compressor = "uncompressed"
		}
		if err := recordCompressor(cache, d, compressor); err != nil {
			logrus.Debugf("Checking blob %s only in %s/%s: %v", d, host, repo, err)
		}
		ok, got, err := dest.TryReusingBlob(ctx, types.BlobInfo{Digest: d, Size: entries[0].Size}, cache, false)
		if err != nil {
			logrus.Debugf("Checking for blob %s in %s/%s: %v", d, host, repo, err)
			continue
		}
		if ok && got.Digest == d {
			logrus.Debugf("Registry %s/%s has blob %s of layer %s", host, repo, d, c.diffID)
			size := got.Size
			if size <= 0 {
				size = entries[0].Size
			}
			return types.BlobInfo{Digest: d, Size: size, MediaType: c.mediaType}, true, stale
		}
		for _, e := range entries {
			if e.Repo == repo {
				stale = append(stale, e)
			}
		}
	}
	return types.BlobInfo{}, false, stale
}

// recordCompressor tells a memory blob-info cache how blob d is compressed
// ("gzip", "zstd" or "uncompressed"). The docker transport offers a
// cross-repository mount only of blobs whose compression its cache knows,
// and the method that records it takes a type of an internal package of
// containers/image, which only reflection can build outside it.
func recordCompressor(cache types.BlobInfoCache, d digest.Digest, compressor string) error {
	m := reflect.ValueOf(cache).MethodByName("RecordDigestCompressorData")
	if !m.IsValid() || m.Type().NumIn() != 2 || m.Type().In(1).Kind() != reflect.Struct {
		return fmt.Errorf("the blob-info cache has no RecordDigestCompressorData(digest, data): %w", errors.ErrUnsupported)
	}
	data := reflect.New(m.Type().In(1)).Elem()
	for name, val := range map[string]string{"BaseVariantCompressor": compressor, "SpecificVariantCompressor": "unknown"} {
		f := data.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.String {
			return fmt.Errorf("the blob-info cache's compressor data has no field %s: %w", name, errors.ErrUnsupported)
		}
		f.SetString(val)
	}
	m.Call([]reflect.Value{reflect.ValueOf(d), data})
	return nil
}

// reuseRef is a source image whose layers listed in subst (by diff id) are
// presented to copy.Image as the compressed blobs the destination has, so
// that it skips them after a HEAD instead of compressing and sending them.
type reuseRef struct {
	types.ImageReference
	subst map[digest.Digest]types.BlobInfo
	// missed is set when copy.Image asked for a substituted blob.
	missed atomic.Bool
}

func (r *reuseRef) NewImageSource(ctx context.Context, sys *types.SystemContext) (types.ImageSource, error) {
	src, err := r.ImageReference.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	return &reuseSource{ImageSource: src, ref: r}, nil
}

func (r *reuseRef) NewImage(ctx context.Context, sys *types.SystemContext) (types.ImageCloser, error) {
	src, err := r.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	return image.FromSource(ctx, sys, src)
}

// substituted reports whether d is a blob presented in place of a layer.
func (r *reuseRef) substituted(d digest.Digest) bool {
	for _, b := range r.subst {
		if b.Digest == d && b.MediaType != "" {
			return true
		}
	}
	return false
}

type reuseSource struct {
	types.ImageSource
	ref *reuseRef
}

func (s *reuseSource) Reference() types.ImageReference { return s.ref }

func (s *reuseSource) LayerInfosForCopy(ctx context.Context, instance *digest.Digest) ([]types.BlobInfo, error) {
	infos, err := s.ImageSource.LayerInfosForCopy(ctx, instance)
	if err != nil || infos == nil {
		return infos, err
	}
	out := slices.Clone(infos)
	for i, in := range infos {
		if b, ok := s.ref.subst[in.Digest]; ok && b.MediaType != "" {
			out[i] = b
		}
	}
	return out, nil
}

func (s *reuseSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	if s.ref.substituted(info.Digest) {
		s.ref.missed.Store(true)
		return nil, 0, fmt.Errorf("reading blob %s: %w", info.Digest, errSubstituted)
	}
	return s.ImageSource.GetBlob(ctx, info, cache)
}

// pushReusing copies src to the docker:// destination dst presenting the
// layers the registry already has (per planReuse) as those blobs, so that
// none of them is compressed or sent. If copy.Image asks for one of them
// after all, the push is made once more without substitutions.
func (st *Store) pushReusing(ctx context.Context, src, dst types.ImageReference, o CopyOptions, compression string) ([]byte, error) {
	subst := st.planReuse(ctx, src, dst, o, compression)
	if len(subst) == 0 {
		return copyRetrying(ctx, src, dst, o)
	}
	ref := &reuseRef{ImageReference: src, subst: subst}
	man, err := copyRetrying(ctx, ref, dst, o)
	if err == nil || !errors.Is(err, errSubstituted) && !ref.missed.Load() {
		return man, err
	}
	logrus.Debugf("Pushing %s again without reusing registry blobs: %v", dst.StringWithinTransport(), err)
	return copyRetrying(ctx, src, dst, o)
}
