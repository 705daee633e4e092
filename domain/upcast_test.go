package domain

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestUpcasterHook shows how an old event version is read: a hypothetical v0 note, which had
// "note" instead of "text" and no visibility, is upcast to claim.note_added.v1.
func TestUpcasterHook(t *testing.T) {
	upcasters["claim.note_added.v0"] = func(data []byte) (string, []byte, error) {
		var v0 struct {
			Note string    `json:"note"`
			At   time.Time `json:"at"`
		}
		if err := json.Unmarshal(data, &v0); err != nil {
			return "", nil, err
		}
		v1, err := json.Marshal(NoteAdded{Text: v0.Note, Visibility: VisibilityInternal, At: v0.At})
		return NoteAdded{}.EventType(), v1, err
	}
	t.Cleanup(func() { delete(upcasters, "claim.note_added.v0") })

	got, err := DecodeEvent("claim.note_added.v0", []byte(`{"note":"old","at":"2020-01-02T03:04:05Z"}`))
	want := NoteAdded{Text: "old", Visibility: VisibilityInternal, At: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, %v; want %#v", got, err, want)
	}
}

func TestUpcasterCycleIsAnError(t *testing.T) {
	upcasters["claim.loop.v0"] = func(data []byte) (string, []byte, error) { return "claim.loop.v0", data, nil }
	t.Cleanup(func() { delete(upcasters, "claim.loop.v0") })
	if _, err := DecodeEvent("claim.loop.v0", []byte(`{}`)); err == nil {
		t.Errorf("an upcaster cycle decoded")
	}
}
