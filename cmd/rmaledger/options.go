package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// envPrefix starts the environment variable of every option.
const envPrefix = "RMALEDGER_"

// options are the flags of one command, each also read from its
// RMALEDGER_* environment variable; a flag wins over its variable.
type options struct {
	set  *flag.FlagSet
	opts map[string]*option
}

// option is one declared flag: its variable and whether its value is a
// secret, shown masked.
type option struct {
	name   string
	env    string
	secret bool
}

func newOptions(command string) *options {
	set := flag.NewFlagSet(command, flag.ContinueOnError)
	set.SetOutput(io.Discard) // run prints the usage and the errors itself
	set.Usage = func() {}
	return &options{set: set, opts: map[string]*option{}}
}

// Env names the option's variable, RMALEDGER_ and name, when it differs
// from the flag's name.
func (o *option) Env(name string) *option {
	o.env = envPrefix + name
	return o
}

// Secret masks the option's value wherever the settings are shown.
func (o *option) Secret() *option {
	o.secret = true
	return o
}

func (o *options) add(name, help string) *option {
	opt := &option{name: name, env: envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	o.opts[name] = opt
	return opt
}

// String declares a text option.
func (o *options) String(p *string, name, value, help string) *option {
	o.set.StringVar(p, name, value, help)
	return o.add(name, help)
}

// Bool declares a switch.
func (o *options) Bool(p *bool, name string, value bool, help string) *option {
	o.set.BoolVar(p, name, value, help)
	return o.add(name, help)
}

// Int declares a whole number.
func (o *options) Int(p *int, name string, value int, help string) *option {
	o.set.IntVar(p, name, value, help)
	return o.add(name, help)
}

// Int64 declares a whole number that may be large (a count of bytes).
func (o *options) Int64(p *int64, name string, value int64, help string) *option {
	o.set.Int64Var(p, name, value, help)
	return o.add(name, help)
}

// Duration declares a length of time such as 15s or 720h.
func (o *options) Duration(p *time.Duration, name string, value time.Duration, help string) *option {
	o.set.DurationVar(p, name, value, help)
	return o.add(name, help)
}

// usageError is a command line that cannot run as written: an unknown
// command or flag, a missing or unknown word. It exits with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef is a usageError with its message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// The exit codes of every command.
const (
	exitOK      = 0 // done
	exitFailure = 1 // the command failed (its error is printed)
	exitUsage   = 2 // the command line is wrong (an unknown command or flag, a missing word)
)

// exitCode is the process's exit code after run returned err.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil || errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &usage):
		return exitUsage
	}
	return exitFailure
}

// parse reads the variables, then the command line: flags and words in
// any order (words after "--" are words even if they start with "-").
// It returns the words.
func (o *options) parse(args []string) (words, error) {
	for name, opt := range o.opts {
		value, ok := os.LookupEnv(opt.env)
		if !ok || value == "" {
			continue
		}
		if err := o.set.Set(name, value); err != nil {
			return nil, usagef("%s=%q: %v", opt.env, value, err)
		}
	}
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	var got words
	for {
		if err := o.set.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			msg := err.Error()
			if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
				msg = "unknown flag --" + strings.TrimLeft(name, "-")
			}
			return nil, usageError{errors.New(msg)}
		}
		args = o.set.Args()
		if len(args) == 0 {
			break
		}
		got, args = append(got, args[0]), args[1:]
	}
	return append(got, rest...), nil
}

// writeFlags lists the options for a usage text, by name: the flag, its
// kind, its variable, its default, and what it does.
func (o *options) writeFlags(w io.Writer) {
	var names []string
	o.set.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, name := range names {
		f := o.set.Lookup(name)
		kind, help := flag.UnquoteUsage(f)
		head := "  --" + name
		if kind != "" {
			head += " " + strings.ToUpper(kind)
		}
		fmt.Fprintf(w, "%s\n%s\n      env %s", head, wrap(help, "      ", 100), o.opts[name].env)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			fmt.Fprintf(w, "; default %s", f.DefValue)
		}
		fmt.Fprintln(w)
	}
}

// wrap breaks text into lines of at most width characters where it can,
// each starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}

// shown is every option's value, one --name=value a line, secrets masked,
// for the log at start.
func (o *options) shown() string {
	var b strings.Builder
	o.set.VisitAll(func(f *flag.Flag) {
		value := f.Value.String()
		if o.opts[f.Name].secret {
			value = maskValue(value)
		}
		fmt.Fprintf(&b, "--%s=%s\n", f.Name, value)
	})
	return b.String()
}

// maskValue hides a secret: a URL keeps all but its user and password.
func maskValue(v string) string {
	if v == "" {
		return ""
	}
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return strings.Replace(v, u.User.String(), "xxxxxx:xxxxxx", 1)
	}
	return "xxxxxx"
}

// words are a command's positional arguments: its subcommand and names.
type words []string

// Num is the i-th word, or "" when there are fewer.
func (w words) Num(i int) string {
	if i < len(w) {
		return w[i]
	}
	return ""
}
