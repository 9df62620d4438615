package storage

import (
	"fmt"

	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
	stypes "go.podman.io/storage/types"
)

// ConfiguredDriver is the storage driver storage.conf names, "" when it
// leaves the choice to kiln. It does not open the store.
func ConfiguredDriver() (string, error) {
	so, err := stypes.DefaultStoreOptions()
	if err != nil {
		return "", fmt.Errorf("reading storage configuration: %w", err)
	}
	return so.GraphDriverName, nil
}

// SearchRegistries are registries.conf's unqualified-search registries.
func SearchRegistries() ([]string, error) {
	regs, err := sysregistriesv2.UnqualifiedSearchRegistries(&types.SystemContext{})
	if err != nil {
		return nil, fmt.Errorf("reading registries.conf: %w", err)
	}
	return regs, nil
}

// Usage is the disk space of one kind of object in the store.
type Usage struct {
	Total  int
	Active int
	// Size counts each layer once, however many images share it.
	Size int64
	// Reclaimable is what removing the inactive objects would free.
	Reclaimable int64
}

// DiskUsage is kiln system df's account of the store.
type DiskUsage struct {
	Images     Usage
	Containers Usage
}

// DiskUsage adds up the space images and containers take. An image is active
// when a container uses it; containers are never counted active, since kiln
// cannot see whether another tool runs them.
func (st *Store) DiskUsage() (*DiskUsage, error) {
	inv, err := st.inventory()
	if err != nil {
		return nil, err
	}
	du := &DiskUsage{}
	activeLayers := map[string]bool{}
	for _, img := range inv.images {
		if len(inv.used[img.ID]) > 0 {
			du.Images.Active++
			for _, l := range inv.layerChain(img.TopLayer) {
				activeLayers[l] = true
			}
		}
	}
	counted := map[string]bool{}
	for _, img := range inv.images {
		du.Images.Total++
		var meta int64
		for _, n := range img.BigDataSizes {
			meta += n
		}
		du.Images.Size += meta
		if len(inv.used[img.ID]) == 0 {
			du.Images.Reclaimable += meta
		}
		for _, l := range inv.layerChain(img.TopLayer) {
			layer, ok := inv.layers[l]
			if !ok || counted[l] {
				continue
			}
			counted[l] = true
			du.Images.Size += layer.UncompressedSize
			if !activeLayers[l] {
				du.Images.Reclaimable += layer.UncompressedSize
			}
		}
	}
	ctrs, err := st.s.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range ctrs {
		du.Containers.Total++
		if n, err := st.s.ContainerSize(c.ID); err == nil && n > 0 {
			du.Containers.Size += n
			du.Containers.Reclaimable += n
		}
	}
	return du, nil
}
