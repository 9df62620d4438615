// Package build turns a Dockerfile and a context into an image: it plans the
// stages a target needs, runs each instruction of a stage in turn (metadata
// instructions as config transforms, RUN in the exec sandbox over a work
// layer, COPY and ADD as file copies into one), snapshots each step's changes
// into a stored layer, keys every step in a cache, and commits the result.
//
// Step context (stage, step number, Dockerfile line, instruction) is added to
// errors in exactly one place: Builder.runStep.
package build
