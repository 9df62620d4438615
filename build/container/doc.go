// Package container runs and keeps kiln's containers: working containers
// made by kiln from and changed by kiln run, copy and config, and the
// containers kiln run starts from images.
//
// A container is a store container (storage.Container): a writable layer on
// an image and the image config it runs and commits with. Each kiln process
// has a private mount namespace, so every command mounts the container's
// root when it needs it ([Mount]) and unmounts it before it exits; only a
// container's supervisor (see exec.Supervise) keeps it mounted for as long
// as the container runs. [Commit] turns a container into an image.
//
// A container started by kiln run has run state in the store's run root
// (storage.Store.ContainerRunDir): state.json ([State]), the options it was
// started with (run.json), its log (ctr.log) when detached, and a stop
// request (stop) while kiln stop waits. The state outlives the command that
// wrote it; a container whose supervisor is gone counts as exited.
package container
