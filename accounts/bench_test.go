package accounts

import (
	"context"
	"testing"
)

// BenchmarkSignIn is one sign-in with the right password: an argon2id
// hash (19 MiB, 2 passes) and a catch-up read of the store.
func BenchmarkSignIn(b *testing.B) {
	ctx := context.Background()
	store, clk := benchStore(b), newClock()
	d, _ := New(ctx, Config{Store: store, Roles: roles, Clock: clk.Now})
	if _, err := d.Add(ctx, admin, "maria", "agent", password); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := d.SignIn(ctx, "maria", password, "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is what every console request pays for its session: the
// token's HMAC and a catch-up read of the store with nothing new.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	store, clk := benchStore(b), newClock()
	d, _ := New(ctx, Config{Store: store, Roles: roles, Clock: clk.Now})
	if _, err := d.Add(ctx, admin, "maria", "agent", password); err != nil {
		b.Fatal(err)
	}
	s, err := d.SignIn(ctx, "maria", password, "192.0.2.1")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := d.Verify(ctx, s.Token); err != nil {
			b.Fatal(err)
		}
	}
}
