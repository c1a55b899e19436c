package db

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xgate/xgate/authn"
)

func TestAuthzDefaults(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	want := AuthzConfig{
		AuthzSettings: authn.AuthzSettings{NoMatch: "allow", DenyAction: "ignore"},
		Sources:       []json.RawMessage{json.RawMessage(`{"type":"rules","enable":true}`)},
	}
	mustEqual(t, "DefaultAuthzConfig", DefaultAuthzConfig(), want)
	mustEqual(t, "fresh database", authzConfig(t, d), want)
	mustEqual(t, "after reopen", authzConfig(t, reopen(t, d)), want)
}

// TestCommitAuthz edits the rule list step by step: a rule keeps its id across moves and
// edits of others, and a new rule gets an id never used before.
func TestCommitAuthz(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	ids := map[string]int64{} // rule name → the id it got
	used := map[int64]bool{}
	var last AuthzConfig
	for _, step := range []struct {
		name  string
		rules []string // the rule list after the step, by name
	}{
		{"add to the empty list", []string{"a", "b", "c"}},
		{"move the last first", []string{"c", "a", "b"}},
		{"delete one", []string{"c", "b"}},
		{"add between", []string{"c", "d", "b"}},
		{"add, move and delete at once", []string{"b", "e", "c"}},
		{"delete all", nil},
		{"add after deleting all", []string{"f"}},
	} {
		t.Run(step.name, func(t *testing.T) {
			var applied AuthzConfig
			got, err := d.CommitAuthz(t.Context(), setRules(step.rules...), func(c AuthzConfig) error {
				applied = c
				return nil
			})
			if err != nil {
				t.Fatalf("CommitAuthz: %v", err)
			}
			mustEqual(t, "applied config", applied, got)
			mustEqual(t, "stored config", authzConfig(t, d), got)
			if names := ruleNames(t, got.Rules); !slices.Equal(names, step.rules) {
				t.Fatalf("rules = %q, want %q", names, step.rules)
			}
			for _, r := range got.Rules {
				name := ruleNames(t, []StoredRule{r})[0]
				if id, ok := ids[name]; ok {
					if r.ID != id {
						t.Errorf("rule %s: id %d, was %d", name, r.ID, id)
					}
					continue
				}
				if r.ID == 0 || used[r.ID] {
					t.Errorf("new rule %s got id %d, already used or zero", name, r.ID)
				}
				ids[name], used[r.ID] = r.ID, true
			}
			last = got
		})
	}

	t.Run("settings and sources", func(t *testing.T) {
		sources := []json.RawMessage{
			json.RawMessage(`{"type":"http","enable":false,"url":"http://127.0.0.1:1/authz"}`),
			json.RawMessage(`{"type":"rules","enable":true}`),
		}
		got, err := d.CommitAuthz(t.Context(), func(c *AuthzConfig) error {
			c.NoMatch, c.DenyAction, c.Sources = "deny", "disconnect", sources
			return nil
		}, applyAuthzOK)
		if err != nil {
			t.Fatalf("CommitAuthz: %v", err)
		}
		want := last
		want.AuthzSettings = authn.AuthzSettings{NoMatch: "deny", DenyAction: "disconnect"}
		want.Sources = sources
		mustEqual(t, "committed config", got, want)
		last = got
	})

	mustEqual(t, "config after reopen", authzConfig(t, reopen(t, d)), last)
}

func TestCommitAuthzRefused(t *testing.T) {
	errEdit := errors.New("edit refused")
	errApply := errors.New("apply refused")
	for _, tc := range []struct {
		name      string
		edit      func(*AuthzConfig) error
		applyErr  error
		wantErr   error
		wantApply bool
		wantExact bool // the error must be edit's or apply's, unwrapped
	}{
		{
			name: "edit fails after changing everything",
			edit: func(c *AuthzConfig) error {
				setRules("b", "new")(c)
				c.NoMatch, c.Sources = "deny", nil
				return errEdit
			},
			wantErr: errEdit, wantExact: true,
		},
		{
			name:     "apply fails",
			edit:     func(c *AuthzConfig) error { c.NoMatch = "deny"; return setRules("b", "new")(c) },
			applyErr: errApply, wantErr: errApply, wantApply: true, wantExact: true,
		},
		{
			name: "unknown rule id",
			edit: func(c *AuthzConfig) error {
				c.Rules = append(c.Rules, StoredRule{ID: 999, Rule: testRule("ghost")})
				return nil
			},
			wantErr: ErrNotFound,
		},
		{
			name: "rule not JSON",
			edit: func(c *AuthzConfig) error {
				c.Rules = append(c.Rules, StoredRule{Rule: json.RawMessage(`{"permission":`)})
				return nil
			},
		},
		{
			name: "source not JSON",
			edit: func(c *AuthzConfig) error {
				c.Sources = append(c.Sources, json.RawMessage(`{"type":`))
				return nil
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
			if _, err := d.CommitAuthz(t.Context(), setRules("a", "b"), applyAuthzOK); err != nil {
				t.Fatal(err)
			}
			before := authzConfig(t, d)
			applied := false
			_, err := d.CommitAuthz(t.Context(), tc.edit, func(AuthzConfig) error {
				applied = true
				return tc.applyErr
			})
			switch {
			case err == nil:
				t.Fatal("CommitAuthz succeeded")
			case tc.wantExact && err != tc.wantErr:
				t.Errorf("CommitAuthz = %v, want %v unchanged", err, tc.wantErr)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("CommitAuthz = %v, want %v", err, tc.wantErr)
			}
			if applied != tc.wantApply {
				t.Errorf("apply called: %v, want %v", applied, tc.wantApply)
			}
			mustEqual(t, "stored config", authzConfig(t, d), before)
			// The refused change released the lock and its transaction: the next one goes through.
			got, err := d.CommitAuthz(t.Context(), setRules("a", "b", "c"), applyAuthzOK)
			if err != nil {
				t.Fatalf("CommitAuthz after the refused one: %v", err)
			}
			if names := ruleNames(t, got.Rules); !slices.Equal(names, []string{"a", "b", "c"}) {
				t.Errorf("rules = %q", names)
			}
		})
	}
}

// When COMMIT fails after apply accepted the change, apply gets the stored config back.
func TestCommitAuthzCommitFails(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	if _, err := d.CommitAuthz(t.Context(), setRules("a"), applyAuthzOK); err != nil {
		t.Fatal(err)
	}
	before := authzConfig(t, d)
	errCommit := errors.New("disk I/O error")
	d.commitTx = func(tx *sql.Tx) error {
		tx.Rollback()
		return errCommit
	}
	var calls [][]string
	_, err := d.CommitAuthz(t.Context(), setRules("b", "a"), func(c AuthzConfig) error {
		calls = append(calls, ruleNames(t, c.Rules))
		return nil
	})
	if !errors.Is(err, errCommit) {
		t.Fatalf("CommitAuthz = %v, want the commit error", err)
	}
	mustEqual(t, "apply calls", calls, [][]string{{"b", "a"}, {"a"}})
	mustEqual(t, "stored config", authzConfig(t, d), before)
}

func applyAuthzOK(AuthzConfig) error { return nil }

func authzConfig(t *testing.T, d *DB) AuthzConfig {
	t.Helper()
	c, err := d.Authz(t.Context())
	if err != nil {
		t.Fatalf("Authz: %v", err)
	}
	return c
}

// testRule is a rule recognisable by name: its only topic is "t/<name>".
func testRule(name string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"permission":"allow","who":"all","action":"publish","topics":["t/%s"]}`, name))
}

// setRules is an edit making the rule list names, in that order: a name already in the
// list keeps its stored rule (and id), a new name is a new rule.
func setRules(names ...string) func(*AuthzConfig) error {
	return func(c *AuthzConfig) error {
		var next []StoredRule
		for _, name := range names {
			r := StoredRule{Rule: testRule(name)}
			for _, old := range c.Rules {
				if string(old.Rule) == string(r.Rule) {
					r = old
				}
			}
			next = append(next, r)
		}
		c.Rules = next
		return nil
	}
}

// ruleNames returns the names of rules made by testRule.
func ruleNames(t *testing.T, rules []StoredRule) []string {
	t.Helper()
	var names []string
	for _, r := range rules {
		var v struct{ Topics []string }
		if err := json.Unmarshal(r.Rule, &v); err != nil || len(v.Topics) != 1 {
			t.Fatalf("rule %d is not a test rule: %s", r.ID, r.Rule)
		}
		names = append(names, v.Topics[0][len("t/"):])
	}
	return names
}
