//go:build !unix

package api

// lockKeyFile does not lock where flock is missing: the service is built
// and run for Linux; elsewhere, run one keys command at a time.
func lockKeyFile(string) (func(), error) { return func() {}, nil }
