package main

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/projections"
)

// consoleAdmin is the console's admin screen on the real parts: the
// accounts directory, the API keys file, the read models and the policy
// book.
type consoleAdmin struct {
	people   *accounts.Directory
	reads    *projections.Runner
	policies *domain.PolicyBook
	// keysFile is the API keys file; envKeys the keys from the
	// environment, listed but revoked only there.
	keysFile string
	envKeys  []api.Key
	now      func() time.Time
}

func by(p console.Person) accounts.Actor { return accounts.Actor{Name: p.Name, Role: p.Role} }

// refusal words the directory's refusals for the console; other errors
// pass as they are.
func refusal(err error) error {
	var invalid *accounts.InvalidError
	switch {
	case errors.Is(err, accounts.ErrNameTaken):
		return &console.RefusedError{Reason: "taken"}
	case errors.Is(err, accounts.ErrNotFound):
		return &console.RefusedError{Reason: "unknown"}
	case errors.As(err, &invalid) && invalid.Field == "organisation":
		return &console.RefusedError{Reason: "organisation"}
	case errors.Is(err, accounts.ErrInvalid):
		return &console.RefusedError{Reason: "invalid"}
	}
	return err
}

func (a consoleAdmin) People(ctx context.Context) ([]console.Account, error) {
	list, err := a.people.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]console.Account, 0, len(list))
	for _, acc := range list {
		out = append(out, console.Account{
			Name: acc.Name, Role: acc.Role, Organisation: acc.Organisation, Disabled: acc.Disabled, Created: acc.Created,
			PasswordChanged: acc.PasswordChanged,
		})
	}
	return out, nil
}

func (a consoleAdmin) AddPerson(ctx context.Context, p console.Person, name, role, organisation, password string) error {
	_, err := a.people.AddToOrganisation(ctx, by(p), name, role, organisation, password)
	return refusal(err)
}

func (a consoleAdmin) DisablePerson(ctx context.Context, p console.Person, name string) error {
	return refusal(a.people.Disable(ctx, by(p), name))
}

func (a consoleAdmin) EnablePerson(ctx context.Context, p console.Person, name string) error {
	return refusal(a.people.Enable(ctx, by(p), name))
}

func (a consoleAdmin) ResetPassword(ctx context.Context, p console.Person, name, password string) error {
	return refusal(a.people.ResetPassword(ctx, by(p), name, password))
}

func (a consoleAdmin) SetRole(ctx context.Context, p console.Person, name, role string) error {
	return refusal(a.people.SetRole(ctx, by(p), name, role))
}

func (a consoleAdmin) APIKeys(context.Context) ([]console.APIKey, error) {
	var out []console.APIKey
	if a.keysFile != "" {
		records, err := api.ReadKeyFile(a.keysFile)
		if err != nil {
			return nil, err
		}
		now := a.now()
		for _, r := range records {
			k := console.APIKey{Name: r.Name, Role: string(r.Role), Organisation: r.Organisation, State: r.State(now), Revocable: true}
			if r.ExpiresAt != nil {
				k.Expires = *r.ExpiresAt
			}
			if r.RevokedAt != nil {
				k.Revoked = *r.RevokedAt
			}
			out = append(out, k)
		}
	}
	for _, k := range a.envKeys {
		out = append(out, console.APIKey{Name: k.Name, Role: string(k.Role), State: "active"})
	}
	return out, nil
}

// RevokeAPIKey revokes a key of the keys file; the service, which follows
// the file, refuses it from its next request. The file records no actor.
func (a consoleAdmin) RevokeAPIKey(_ context.Context, _ console.Person, name string) error {
	if slices.ContainsFunc(a.envKeys, func(k api.Key) bool { return k.Name == name }) {
		return &console.RefusedError{Reason: "env-key"}
	}
	if a.keysFile == "" {
		return &console.RefusedError{Reason: "unknown-key"}
	}
	_, err := api.RevokeKey(a.keysFile, name, a.now())
	if errors.Is(err, api.ErrNoSuchKey) {
		return &console.RefusedError{Reason: "unknown-key"}
	}
	return err
}

func (a consoleAdmin) ReadModels(ctx context.Context) ([]projections.Status, error) {
	return a.reads.Status(ctx)
}

// Rebuild starts rebuilding one read model in the background.
func (a consoleAdmin) Rebuild(_ context.Context, _ console.Person, name string) error {
	if !slices.Contains(a.reads.Names(), name) {
		return &console.RefusedError{Reason: "unknown-model"}
	}
	return a.reads.StartRebuild(name)
}

func (a consoleAdmin) Policies(now time.Time) ([]domain.Policy, string) {
	return a.policies.Versions(), a.policies.InForce(now).Version
}
