// Package eventlog says what the service stores in the event log, in one
// place both the write side and the read side use: the name of every stream
// the product writes (how to make one and how to read the id back out of
// it) and the metadata every event carries. The text form of a position in
// the log is eventstore.Position's (String and eventstore.ParsePosition).
//
// Stream names and metadata fields are a stored format: existing data
// directories hold them, so they are never renamed, only added to.
package eventlog
