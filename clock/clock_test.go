package clock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var start = time.Date(2030, 6, 3, 7, 0, 0, 0, time.UTC)

func TestSandboxMarksANewDirectoryAndStandsStill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := OpenSandbox(dir, start.Add(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Now(); !got.Equal(start) {
		t.Fatalf("Now = %s, want the start truncated to the second, %s", got, start)
	}
	if ok, err := IsSandbox(dir); err != nil || !ok {
		t.Fatalf("IsSandbox = %v, %v; want the marker written at creation", ok, err)
	}
	time.Sleep(20 * time.Millisecond)
	if got := s.Now(); !got.Equal(start) {
		t.Fatalf("the test clock moved by itself: %s", got)
	}
}

func TestSandboxMovesOnlyForwardAndPersists(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSandbox(dir, start)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Advance(26 * time.Hour)
	if err != nil || !got.Equal(start.Add(26*time.Hour)) {
		t.Fatalf("Advance = %s, %v", got, err)
	}
	if _, err := s.Advance(0); err == nil {
		t.Fatal("Advance(0) succeeded")
	}
	if _, err := s.Set(start); !errors.Is(err, ErrBackwards) {
		t.Fatalf("Set(earlier) = %v, want ErrBackwards", err)
	}
	if !s.Now().Equal(start.Add(26 * time.Hour)) {
		t.Fatalf("a refused move changed the clock: %s", s.Now())
	}
	to := time.Date(2030, 7, 1, 10, 0, 0, 0, time.FixedZone("EEST", 3*3600))
	if got, err := s.Set(to); err != nil || !got.Equal(to) || got.Location() != time.UTC {
		t.Fatalf("Set = %s, %v; want %s in UTC", got, err, to)
	}
	// A restart resumes where the clock stood, not at a new start.
	again, err := OpenSandbox(dir, start.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Now().Equal(to) {
		t.Fatalf("after reopening Now = %s, want %s", again.Now(), to)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(matches) > 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}

func TestSandboxRefusesADirectoryWithDataButNoMarker(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "events.db"), []byte("production"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSandbox(dir, start); !errors.Is(err, ErrNotSandbox) {
		t.Fatalf("OpenSandbox on a production directory = %v, want ErrNotSandbox", err)
	}
	if ok, _ := IsSandbox(dir); ok {
		t.Fatal("the refused directory was marked")
	}
	if err := CheckProduction(dir); err != nil {
		t.Fatalf("CheckProduction on a production directory: %v", err)
	}
}

func TestProductionRefusesASandbox(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenSandbox(dir, start); err != nil {
		t.Fatal(err)
	}
	if err := CheckProduction(dir); !errors.Is(err, ErrIsSandbox) {
		t.Fatalf("CheckProduction on a sandbox = %v, want ErrIsSandbox", err)
	}
	if err := CheckProduction(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("CheckProduction on a new directory: %v", err)
	}
}

func TestSandboxRefusesACorruptInstant(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenSandbox(dir, start); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("yesterday\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSandbox(dir, start); err == nil {
		t.Fatal("a clock file that does not parse was accepted")
	}
}
